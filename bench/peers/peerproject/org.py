"""The organization every peer view answers with: the exact JSON document Keyhouse's
``GET /api/org`` returned for the seeded org, handed over by bench/run.py."""

import json
import os

ORG = json.loads(os.environ["BENCH_ORG_JSON"])
