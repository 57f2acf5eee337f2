"""Show measured figures (fuzz case counts, fault-run audits) in pytest's terminal summary.

    from tests.support.figures import report_figure
    report_figure(request.config, "API fuzz: 5120 cases, 0 failures")

The lines appear under a "hongbao figures" heading at the end of the run, without ``-s``: a
small plugin object is registered on first use and implements ``pytest_terminal_summary``.
"""

from __future__ import annotations

import pytest

_NAME = "hongbao-figures"


class _Figures:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.lines:
            terminalreporter.write_sep("-", "hongbao figures (fuzz and fault runs)")
            for line in self.lines:
                terminalreporter.write_line(line)


def report_figure(config: pytest.Config, line: str) -> None:
    """Queue ``line`` for the end-of-run summary (also kept in config for other reporters)."""
    plugin = config.pluginmanager.get_plugin(_NAME)
    if plugin is None:
        plugin = _Figures()
        config.pluginmanager.register(plugin, _NAME)
    plugin.lines.append(line)
