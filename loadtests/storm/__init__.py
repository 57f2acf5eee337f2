"""Grab storms: scenario files, latency histograms, the Locust recorder and the orchestration
behind ``hongbao storm`` (start the service, run Locust headless, audit the ledger, gate on SLOs).
"""
