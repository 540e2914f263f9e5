"""The API store's wake-ups forwarded to `serve`'s delivery thread (store/wakeup.py)."""

from __future__ import annotations

from collections.abc import Callable

from hookcast.store.wakeup import Wakeup


class _ForwardClearedMidNotify(Wakeup):
    """A `Wakeup` whose `forward` the delivery thread clears (as it does when it stops) just
    after the first look at it: the interleaving a publish committed at that moment meets."""

    def __init__(self, forward: Callable[[], None]) -> None:
        super().__init__(None)
        self._next: Callable[[], None] | None = forward

    @property
    def forward(self) -> Callable[[], None] | None:
        seen, self._next = self._next, None
        return seen

    @forward.setter
    def forward(self, value: Callable[[], None] | None) -> None:
        self._next = value


def test_a_wakeup_forwarded_as_the_delivery_thread_stops_does_not_fail_the_publish() -> None:
    forwarded: list[bool] = []
    wakeup = _ForwardClearedMidNotify(lambda: forwarded.append(True))

    wakeup.notify()  # before the fix: TypeError ('NoneType' is not callable), a 500

    assert forwarded == [True]
