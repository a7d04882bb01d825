from __future__ import annotations

import json
import logging

from webmail.logs import JsonFormatter


def test_json_logs_keep_context_and_drop_secrets() -> None:
    record = logging.makeLogRecord({
        "name": "webmail.sync", "levelname": "INFO", "msg": "synced %s", "args": ("a",),
        "account_id": 7, "password": "hunter2", "raw_body": "Dear Bob",
    })
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "synced a"
    assert line["account_id"] == 7
    assert line["password"] == "[removed]"
    assert line["raw_body"] == "[removed]"
    assert "hunter2" not in json.dumps(line)
