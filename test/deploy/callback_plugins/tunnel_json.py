"""A stdout callback for tests: the whole play as one JSON document.

Debian's ansible-core has no json callback (that one lives in ansible.posix),
so the deployment tests use this: every task's per-host result as the
default callback would see it (clean_copy: no_log results censored, diffs
kept) with its status, loop item results included, and the recap stats.
"""

import json
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: tunnel_json
    type: stdout
    short_description: the play as one JSON document (tests only)
    description: Prints tasks with per-host results and the recap stats as JSON at the end.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "tunnel_json"

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []

    def _start(self, task, handler):
        now = time.time()
        if self.tasks:
            self.tasks[-1]["task"]["seconds"] = round(now - self.tasks[-1]["task"]["started"], 2)
        self.tasks.append({"task": {"name": task.get_name(), "handler": handler, "started": now}, "hosts": {}})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task, False)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task, True)

    def _record(self, result, status):
        if not self.tasks:
            return
        clean = result.clean_copy()._result
        clean["status"] = status
        self.tasks[-1]["hosts"][result._host.get_name()] = clean

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        if self.tasks:
            self.tasks[-1]["task"]["seconds"] = round(time.time() - self.tasks[-1]["task"]["started"], 2)
        summary = dict((h, stats.summarize(h)) for h in sorted(stats.processed.keys()))
        self._display.display(json.dumps({"plays": [{"tasks": self.tasks}], "stats": summary}, default=str))
