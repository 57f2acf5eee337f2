"""Runnable examples of the adapter seam: ``yuan_service`` (a small grab service with its own API
shape: other paths and field names, amounts as yuan strings, a bearer token, errors as HTTP 200
with a code in the body) and ``yuan_adapter`` (the adapter that lets the kit storm it)."""
