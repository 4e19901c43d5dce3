"""Plays the browser for the OAuth tests: ``python oauth_browser.py URL`` opens the authorization URL and follows
its redirects (the suite's authorization server approves at once) to the client's loopback listener."""

from __future__ import annotations

import sys

import httpx

if __name__ == "__main__":
    response = httpx.get(sys.argv[1], follow_redirects=True, timeout=30)
    print(response.status_code, response.text[:200], file=sys.stderr)
    raise SystemExit(0 if response.status_code == 200 else 1)
