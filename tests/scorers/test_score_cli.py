"""`steerid score`: plain lines or JSONL (with opinions for agreeableness); bad input → one line, exit 2."""

from __future__ import annotations

import json

import pytest

from steerid.cli import main


def _run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
        raise SystemExit(0)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_plain_lines_score_as_before(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text("What a lovely day!\n\nThis is awful.\n", encoding="utf-8")
    code, out, err = _run(capsys, "score", "--trait", "sentiment_vader", "--file", str(f), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ["What a lovely day!", "This is awful."]
    assert rows[0]["score"] > 0 > rows[1]["score"]


def test_jsonl_text_lines_for_a_plain_scorer(tmp_path, capsys):
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "I love it."}\n{"text": "I hate it.", "opinion": "ignored here"}\n', encoding="utf-8")
    code, out, _ = _run(capsys, "score", "--trait", "sentiment_vader", "--file", str(f), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ["I love it.", "I hate it."] and "opinion" not in rows[0]


def test_agreeableness_reads_opinions_from_jsonl(tmp_path, capsys):
    from steerid.scorers import get_scorer

    reply = "They save us hours of travel and we sort everything out in twenty minutes."
    rows = [{"opinion": "Remote meetings are a waste of time.", "text": reply},
            {"opinion": "Remote meetings are a great use of time.", "text": reply}]
    f = tmp_path / "a.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, out, _ = _run(capsys, "score", "--trait", "agreeableness", "--file", str(f), "--json")
    got = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [g["opinion"] for g in got] == [r["opinion"] for r in rows]
    expected = get_scorer("agreeableness").score([reply, reply], opinion=[r["opinion"] for r in rows])
    assert [g["score"] for g in got] == pytest.approx(expected.tolist(), abs=1e-6)
    assert got[1]["score"] > got[0]["score"]


@pytest.mark.parametrize(
    ("name", "content", "trait", "expect"),
    [
        ("empty.txt", "", "sentiment_vader", ("is empty", "fix:")),
        ("blank.txt", "\n  \n\n", "sentiment_vader", ("is empty", "fix:")),
        ("bad.jsonl", '{"text": "fine"}\n{"text": oops}\n', "sentiment_vader", ("bad.jsonl:2 is not valid JSON", "fix:")),
        ("list.jsonl", '["a", "b"]\n', "sentiment_vader", ("list.jsonl:1", "not a JSON object")),
        ("notext.jsonl", '{"txt": "typo"}\n', "sentiment_vader", ("notext.jsonl:1 has no string field 'text'", "fix:")),
        ("noop.jsonl", '{"opinion": "Tea is best.", "text": "Yes!"}\n{"text": "No."}\n', "agreeableness",
         ("noop.jsonl:2 has no field 'opinion'", "fix:")),
        ("badop.jsonl", '{"opinion": 3, "text": "Yes!"}\n', "agreeableness", ("'opinion' must be a string", "fix:")),
        ("blanktexts.jsonl", '{"text": ""}\n{"text": "  "}\n', "sentiment_vader", ("no non-blank texts", "fix:")),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, name, content, trait, expect):
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    code, out, err = _run(capsys, "score", "--trait", trait, "--file", str(f))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for piece in expect:
        assert piece in lines[0]
