"""The reader of the pages' runnable blocks (tests/support/walkthrough.py), on small pages:
what it runs, what it expects, and that an output missing a shown line is caught."""

from __future__ import annotations

from support.walkthrough import first_missing, runnable_blocks

PAGE = """# A page

<!-- walkthrough: run -->
```sh
# prose, not run
export A=1
hookcast webhooks create --url http://127.0.0.1:9000/ \\
  --json > webhook.json     # a trailing comment stays with the command
# -> secret: whsec_...
# -> matched 1 webhook
```

```sh
not marked, not run
```

<!-- walkthrough: listen output -->
```text
╭─ media_available  event_id=evt_... ─╮
│ signatures: JWT ✓  Standard ✓  hex ✓  │
```

<!-- walkthrough: python -->
```python
print("evt_1")  # the id
# -> evt_...
```
"""


def test_marked_blocks_are_read_in_page_order_with_their_steps_and_shown_lines() -> None:
    run, listen, python = runnable_blocks(PAGE)
    assert [block.kind for block in (run, listen, python)] == ["run", "listen output", "python"]
    assert [step.command for step in run.steps] == [
        "export A=1",
        "hookcast webhooks create --url http://127.0.0.1:9000/ \\\n"
        "  --json > webhook.json     # a trailing comment stays with the command",
    ]
    assert run.steps[1].expected == ("secret: whsec_...", "matched 1 webhook")
    assert run.steps[1].line == 7
    assert listen.expected() == (
        "media_available  event_id=evt_...",
        "signatures: JWT ✓  Standard ✓  hex ✓",
    )
    assert python.expected() == ("evt_...",)


def test_shown_lines_must_appear_in_order_with_dots_for_anything_on_the_line() -> None:
    printed = ["evt_3kTMd9Cq", "secret: whsec_abc=  (shown once)", "matched 1 webhook"]
    assert first_missing(["evt_...", "secret: whsec_...", "matched 1 webhook"], printed) is None
    assert first_missing(["matched 1 webhook", "evt_..."], printed) == "evt_..."
    assert first_missing(["matched 2 webhooks"], printed) == "matched 2 webhooks"
    # "..." stays within a line: two shown lines are not one printed line.
    assert first_missing(["evt_...matched"], printed) == "evt_...matched"
