"""The visit-logging load of bench/web_load.py: street workers' phones posting visits.

Each simulated phone posts one visit per ``BENCH_WEB_USER_RATE`` seconds⁻¹ (locust's
``constant_throughput``), so ``users × rate`` requests per second arrive whatever the
response times are, as long as a response takes less than one interval: a constant arrival
rate, not a closed loop that slows down with the server. Every visit carries a fresh client
UUID and an elder of the worker's area. Read from the environment (set by web_load.py):
``BENCH_WEB_INFO`` (a JSON file with ``token`` and ``elders``) and ``BENCH_WEB_USER_RATE``.
"""

import datetime
import json
import os
import random
import uuid
from zoneinfo import ZoneInfo

from locust import FastHttpUser, constant_throughput, task

SHANGHAI = ZoneInfo("Asia/Shanghai")

with open(os.environ["BENCH_WEB_INFO"], encoding="utf-8") as handle:
    INFO = json.load(handle)
HEADERS = {"Authorization": f"Token {INFO['token']}", "Accept-Language": "zh-hans"}
MODES = ("home", "home", "home", "phone")


class FieldPhone(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("BENCH_WEB_USER_RATE", "1")))

    @task
    def log_visit(self):
        body = {
            "uuid": str(uuid.uuid4()),
            "elder": random.choice(INFO["elders"]),
            "visited_at": datetime.datetime.now(SHANGHAI).isoformat(timespec="seconds"),
            "mode": random.choice(MODES),
            "outcome": "seen_well",
            "needs": [],
            "notes": "压测",
            "latitude": 30.2874,
            "longitude": 120.1215,
        }
        with self.client.post(
            "/api/visits/visits/",
            json=body,
            headers=HEADERS,
            name="POST /api/visits/visits/",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
