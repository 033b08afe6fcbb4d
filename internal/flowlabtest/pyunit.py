"""Run a Python unittest module and report each test as one JSON line.

Usage: pyunit.py MODULE  (run from the module's directory)
Each line: {"test": "<class>.<method>[ <subtest>]", "outcome": "ok|fail|error|skip", "detail": "...", "seconds": 1.2}
The Go side (flowlabtest.RunPythonTests) turns the lines into subtests.
"""

import json
import os
import sys
import time
import unittest


class JSONResult(unittest.TestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._t0 = {}

    def _emit(self, test, outcome, detail=""):
        name = test.id().split(".", 1)[-1]
        t0 = self._t0.get(test.id(), time.monotonic())
        print(json.dumps({"test": name, "outcome": outcome, "detail": detail,
                          "seconds": round(time.monotonic() - t0, 3)}), flush=True)

    def startTest(self, test):
        super().startTest(test)
        self._t0[test.id()] = time.monotonic()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(test, "skip", reason)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "fail" if issubclass(err[0], test.failureException) else "error"
            self._emit(subtest, outcome, self._exc_info_to_string(err, test))


def main():
    sys.path.insert(0, os.getcwd())
    suite = unittest.defaultTestLoader.loadTestsFromName(sys.argv[1])
    result = JSONResult()
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
