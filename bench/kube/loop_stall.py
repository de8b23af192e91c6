#!/usr/bin/python3
"""Event-loop stalls seen from outside: GET /healthz (ironboot's HTTP service, on the same
event loop as the embedded API) on one keep-alive connection every 10 ms until its stdin is
closed; prints the number of requests, the median and the largest response time in ms.

Usage: loop_stall.py HOST:PORT"""
import http.client
import select
import statistics
import sys
import time


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    times = []
    # stdin is readable once the benchmark closes it.
    while not select.select([sys.stdin], [], [], 0)[0]:
        t0 = time.monotonic()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        times.append(time.monotonic() - t0)
        time.sleep(max(0.0, 0.01 - (time.monotonic() - t0)))
    print(f"{len(times)} {statistics.median(times) * 1000:.1f} {max(times) * 1000:.1f}")


if __name__ == "__main__":
    main()
