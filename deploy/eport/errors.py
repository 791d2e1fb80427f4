"""What `eport` exits with, so that scripts can tell a mistake from an outage."""
OK = 0
FAILED = 1  # the command ran and did not get everything done (e.g. a replay the broker refused)
USAGE = 2  # the user's mistake: a bad argument, an unknown queue, service or projection
UNAVAILABLE = 3  # the broker or a service of the platform did not answer
REFUSED = 4  # the broker refused the tool's user (its permissions: README, deploy/broker_policy.py)
INTERRUPTED = 130


class CommandError(Exception):
    """A failure to report in one line, without a traceback, and its exit code."""

    def __init__(self, message, code=FAILED):
        super().__init__(message)
        self.code = code


def usage(message):
    return CommandError(message, USAGE)


def unavailable(message):
    return CommandError(message, UNAVAILABLE)
