"""First-in first-out queues by key, served one key after another."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class RoundRobin(Generic[T]):
    """Items queued per key; `head()` is the first item of the key whose turn it is.

    After `pop()` or `skip()` the turn passes to the next key; a key whose queue empties
    leaves the rotation, and comes back at the end when it gets an item again.
    """

    def __init__(self) -> None:
        self._queues: dict[str, deque[T]] = {}
        self._turns: deque[str] = deque()  # the keys with items, the current one first
        self._size = 0

    def __len__(self) -> int:
        """Items queued, all keys together."""
        return self._size

    @property
    def keys(self) -> int:
        """How many keys have items queued."""
        return len(self._turns)

    def __contains__(self, key: object) -> bool:
        return key in self._queues

    def length(self, key: str) -> int:
        """Items queued for `key`."""
        queue = self._queues.get(key)
        return len(queue) if queue is not None else 0

    def push(self, key: str, item: T) -> None:
        """Queues `item` last for `key`."""
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._turns.append(key)
        queue.append(item)
        self._size += 1

    def head(self) -> tuple[str, T]:
        """The key whose turn it is and its first item (there must be one)."""
        key = self._turns[0]
        return key, self._queues[key][0]

    def pop(self) -> T:
        """Takes the head item; the turn passes to the next key."""
        key = self._turns[0]
        queue = self._queues[key]
        item = queue.popleft()
        self._size -= 1
        if queue:
            self._turns.rotate(-1)
        else:
            self._turns.popleft()
            del self._queues[key]
        return item

    def skip(self) -> None:
        """The turn passes to the next key; the current one keeps its items."""
        self._turns.rotate(-1)

    def take(self, key: str, wanted: Callable[[T], bool]) -> list[T]:
        """Takes `key`'s items that are `wanted`, the others kept in their order."""
        queue = self._queues.get(key)
        if queue is None:
            return []
        taken = [item for item in queue if wanted(item)]
        if taken:
            kept = deque(item for item in queue if not wanted(item))
            self._size -= len(taken)
            if kept:
                self._queues[key] = kept
            else:
                del self._queues[key]
                self._turns.remove(key)
        return taken

    def items(self) -> list[T]:
        """Every item queued, key by key (a copy: the queues stay as they are)."""
        return [item for queue in self._queues.values() for item in queue]

    def take_where(self, wanted: Callable[[T], bool]) -> list[tuple[str, T]]:
        """Takes the items that are `wanted` whatever their key, with their keys."""
        keys = [key for key, queue in self._queues.items() if any(map(wanted, queue))]
        return [(key, item) for key in keys for item in self.take(key, wanted)]

    def clear(self) -> list[T]:
        """Takes every item, key by key."""
        items = [item for queue in self._queues.values() for item in queue]
        self._queues.clear()
        self._turns.clear()
        self._size = 0
        return items
