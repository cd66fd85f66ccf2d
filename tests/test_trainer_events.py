"""The trainer's event schema: what clode.training.train emits, the panel reads back typed."""

import json

from clode.training import events as events


def test_events_round_trip_through_json_lines():
    sent = [events.Data(3, [["a.jpg", "too small"]]),
            events.Step(2, 10, 0.5, {"total": 0.5}, 1e-4, 1.5, 6.0),
            events.Checkpoint(2, "/r/step-2", "/r/step-2/model.safetensors"),
            events.Validation({"psnr": 20.1, "ssim": 0.7}),
            events.Done("/m.safetensors", 10, 12.5),
            events.Cancelled(3, None)]
    for event in sent:
        line = event.to_json()
        assert json.loads(line)["event"] == event.kind
        assert events.parse(line) == event
        assert events.parse(line.encode()) == event


def test_the_wire_format_is_the_trainers():
    assert events.Step(1, 4, 0.25, {}, 0.1, 2.0, 3.0).to_dict() == {
        "event": "step", "step": 1, "steps": 4, "loss": 0.25, "terms": {}, "lr": 0.1, "elapsed": 2.0, "eta": 3.0}
    assert events.Validation({"psnr": 1.0}).to_dict() == {"event": "validation", "psnr": 1.0}


def test_other_lines_are_not_events():
    for line in ["", "not json", "[1]", '{"no": "event"}', '{"event": "future-kind"}', '{"event": "step"}']:
        assert events.parse(line) is None
    # extra keys from a newer trainer are ignored
    assert events.parse('{"event": "done", "model": "m", "steps": 1, "seconds": 2, "new": 1}') == events.Done("m", 1, 2)
