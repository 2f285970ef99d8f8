"""HTTP status and latency of each URL given on the command line, as one JSON
list on stdout. status.yml runs it on the managed host (ansible.builtin.uri
reports elapsed time in whole seconds only). Runs on Python 3.8+: it is the
managed host's interpreter, not the tooling one."""

from __future__ import annotations

import http.client
import json
import sys
import time
import urllib.error
import urllib.request

TIMEOUT = 5.0
# The endpoints are local: a proxy from http_proxy must not answer for them.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str) -> dict[str, object]:
    start = time.monotonic()
    status, error = 0, ""
    try:
        with OPENER.open(url, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, http.client.HTTPException) as exc:
        error = str(getattr(exc, "reason", exc))
    return {"url": url, "status": status, "ms": round((time.monotonic() - start) * 1000), "error": error}


if __name__ == "__main__":
    print(json.dumps([probe(url) for url in sys.argv[1:]]))
