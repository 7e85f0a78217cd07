"""A clock and sleep for code that waits (readiness, delete deadlines): time passes only when the code sleeps."""


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
