"""Suite-wide: run under a non-UTC process time zone, so nothing may depend on it."""

from __future__ import annotations

import os
import time

os.environ["TZ"] = os.environ.get("S3RB_TEST_TZ", "Asia/Tokyo")
time.tzset()
