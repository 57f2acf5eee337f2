"""Capacity planning: saturation search (knees), per-core rates, and the projection to a target peak.

- presets.py: published peaks (seeds/capacity/*.toml) and parsing of --target/--p99/--headroom;
- saturation.py: knee finding from a step ramp's steps, and what limited it;
- model.py: the projection arithmetic (pure, recomputable from capacity.json);
- measure.py: store-side figures (bytes per envelope, Redis grab rate per core);
- ramp.py: running one step ramp against the grab service;
- plan.py: putting it together into capacity.json.
"""
