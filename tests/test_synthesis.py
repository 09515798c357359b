"""The synthesis pipeline end to end: the real client against a scripted loopback server playing vlm / reasoner /
judge, with per-image quirks (disagreement, judge rejection, filter rejection, malformed replies) and HTTP faults."""

from __future__ import annotations

import fcntl
import json
import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from dataset_builder.schema import RELEASE_FIELDS
from dataset_builder.synthesis import (
    EXAMPLE_CONFIG,
    in_shard,
    list_images,
    load_config,
    parse_config,
    parsing,
    stages,
    synthesize,
)
from dataset_builder.synthesis.journal import DurableJsonl
from dataset_builder.synthesis.workers import split_config
from dataset_builder.synthetic import write_synthetic_release
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer
from tests.doubles.synthesis_roles import ScriptedRoles, request_hash

ROLES = ("vlm", "reasoner", "judge")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    release = write_synthetic_release(tmp_path_factory.mktemp("release"), 6, seed=3)
    return release.images_root


@pytest.fixture(scope="module")
def quirks(images):
    paths = list_images(images)
    return {
        paths[0]: {"vlm_disagrees"},  # judge accepts the reasoner: 3 records
        paths[1]: {"vlm_disagrees", "judge_rejects"},  # 3 judge rejections
        paths[2]: {"filter_rejects"},  # first question rejected by the filter: 2 records
        paths[3]: {"malformed_caption"},  # image-level rejection at the coarse caption
        paths[4]: {"malformed_question"},  # the multiple-choice question's JSON is broken: 2 records
    }  # paths[5]: clean, 3 records


def make_config(server, *, concurrency=4, **pipeline):
    endpoint = {"base_url": server.base_url, "max_concurrency": concurrency, "timeout": 10, "sampling": {"seed": 7}}
    return parse_config(
        {
            "roles": {role: {"endpoints": [endpoint]} for role in ROLES},
            "pipeline": {"max_refinement_turns": 2, "backoff_base": 0.01, **pipeline},
        }
    )


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Faulty:
    """Fails the first attempt of some requests (picked by a hash of the request): a 500, a 429 or a dropped
    connection; the retry gets the real reply."""

    def __init__(self, responder):
        self.responder = responder
        self.attempts = Counter()
        self.lock = threading.Lock()

    def __call__(self, request):
        digest = request_hash(request.body)
        with self.lock:
            self.attempts[digest] += 1
            first = self.attempts[digest] == 1
        pick = int(digest, 16) % 6
        if first and pick == 0:
            return Reply(status=500)
        if first and pick == 1:
            return Reply(status=429, headers={"Retry-After": "0"})
        if first and pick == 2:
            return Reply(drop=True)
        return self.responder(request)


def test_example_config_and_validation(tmp_path):
    config = load_config(EXAMPLE_CONFIG)
    assert config.models() == {
        "vlm": ["Qwen/Qwen2.5-VL-72B-Instruct"],
        "reasoner": ["deepseek-ai/DeepSeek-R1"],
        "judge": ["Qwen/Qwen2.5-72B-Instruct"],
    }
    assert config.roles["vlm"].sees_image and not config.roles["reasoner"].sees_image
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles:\n  vlm: {endpoints: [{base_url: http://x/v1, max_concurency: 3}]}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: roles \['reasoner', 'judge'\] are not configured"):
        load_config(bad)
    endpoint = {"base_url": "http://x/v1", "api_key": "sk-secret"}
    with pytest.raises(ValueError, match=r"roles.vlm.endpoints\[0\]: put the key in an environment variable"):
        parse_config({"roles": {role: {"endpoints": [endpoint]} for role in ROLES}})
    endpoint = {"base_url": "http://x/v1", "max_concurency": 3}
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['max_concurency'\]"):
        parse_config({"roles": {role: {"endpoints": [endpoint]} for role in ROLES}})


def test_parsers_are_strict_and_bounded():
    assert parsing.tagged("x <caption> a </caption> <caption>b</caption>", "caption") == "b"
    with pytest.raises(parsing.MalformedReply, match="no <caption>"):
        parsing.tagged("Sure! Here it is.", "caption")
    assert parsing.json_object('ok\n```json\n{"question": "q"}\n```\n')["question"] == "q"
    with pytest.raises(parsing.MalformedReply, match="invalid JSON"):
        parsing.json_object('```json\n{"question": \n```')
    with pytest.raises(parsing.MalformedReply, match="expected one of"):
        parsing.choice("<verdict>maybe</verdict>", "verdict", ("valid", "forced"))
    with pytest.raises(parsing.MalformedReply, match="over the 10 limit"):
        parsing.check_length("x" * 11, 10)
    assert parsing.think_and_rest("<think>a</think> <answer>B</answer>") == ("a", "<answer>B</answer>")
    assert parsing.think_and_rest("a</think>B") == ("a", "B")  # R1 chat template drops the opening tag


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "500-429-dropped"])
def test_pipeline_paths_records_rejections_and_stats(images, quirks, tmp_path, faults):
    roles = ScriptedRoles(images, quirks=quirks)
    with ScriptedOpenAIServer(Faulty(roles) if faults else roles) as server:
        summary = synthesize(make_config(server), images, tmp_path / "out", progress=False)
        requests = list(server.requests)

    paths = list_images(images)
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    per_image = {path: sum(r["image_path"] == path for r in records) for path in paths}
    assert per_image == {paths[0]: 3, paths[1]: 0, paths[2]: 2, paths[3]: 0, paths[4]: 2, paths[5]: 3}
    assert sorted((r["image_path"], r["stage"], r["reason"]) for r in rejected) == sorted(
        [(paths[1], "judge", "judged_incorrect")] * 3
        + [
            (paths[2], "filter", "unverifiable"),
            (paths[3], "coarse_caption", "malformed_reply"),
            (paths[4], "formulate", "malformed_reply"),
        ]
    )
    assert "invalid JSON" in next(r["detail"] for r in rejected if r["stage"] == "formulate")

    for record in records:
        assert set(record) == {*RELEASE_FIELDS, "provenance"}
        assert (images / record["image_path"]).is_file()
        assert record["reward"] == ("model" if record["category"] == "descriptive" else "rule")
        assert "Reasoning" in record["abilities"] and len(record["abilities"]) >= 2
        assert record["refined_cot"] and "<think>" not in record["refined_cot"]
        provenance = record["provenance"]
        assert provenance["models"]["vlm"] == "Qwen/Qwen2.5-VL-72B-Instruct"
        assert provenance["prompt_versions"]["formulate"].startswith("formulate_v1@")
        if record["category"] == "multiple-choice":
            assert record["answer"] == "B" and "\nB. three" in record["problem"]
        if record["image_path"] == paths[0]:
            assert provenance["agreement"] is False and provenance["judge"] == "correct"
        else:
            assert provenance["agreement"] is True and provenance["judge"] is None
    assert len({r["provenance"]["record_id"] for r in records}) == len(records) == 10

    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["records"] == 10 and stats["images"] == 6
    # 13 answered questions: 7 agreed, 6 disagreed (paths 0 and 1) of which the judge accepted 3.
    assert stats["agreement_rate"] == round(7 / 13, 4)
    assert stats["reevaluation_acceptance_rate"] == 0.5
    assert stats["rejection_reasons"]["judge: judged_incorrect"] == 3
    assert stats["stages"]["coarse_caption"] == {"passed": 5, "rejected": 1}
    assert all(stats["tokens_per_role"][role]["completion_tokens"] > 0 for role in ROLES)
    assert stats["run"]["requests_sent"] == sum(t["requests"] for t in stats["tokens_per_role"].values())
    assert "| judge: judged_incorrect | 3 |" in (tmp_path / "out" / "stats.md").read_text()
    assert summary.images_failed == 0
    if faults:
        retries = sum(stats["run"]["client"][role]["retries"] for role in ROLES)
        assert retries > 0 and len(requests) == stats["run"]["requests_sent"] + retries

    # The VLM sees the image as a data URL; the text-only roles get plain text; sampling settings reach the server.
    for request in requests:
        content = request.messages[0]["content"]
        if "stage=answer_vlm" in request.last_text or "stage=coarse_caption" in request.last_text:
            assert content[0]["image_url"]["url"].startswith("data:image/")
        if "stage=formulate" in request.last_text or "stage=judge" in request.last_text:
            assert isinstance(content, str)
        assert request.body["seed"] == 7


def test_rerun_replays_the_journal_and_tolerates_torn_lines(images, quirks, tmp_path):
    out = tmp_path / "out"
    roles = ScriptedRoles(images, quirks=quirks)
    with ScriptedOpenAIServer(roles) as server:
        config = make_config(server)
        synthesize(config, images, out, progress=False)
        first_requests = len(server.requests)
        records = (out / "records.jsonl").read_text()
        # Forget that the last two images finished (as if killed before their "done" entries) and tear the tails.
        journal = (out / "checkpoint" / "journal.jsonl").read_text().splitlines(keepends=True)
        done = [i for i, line in enumerate(journal) if '"kind": "image_done"' in line][-2:]
        unfinished = {json.loads(journal[i])["image"] for i in done}
        kept = [line for i, line in enumerate(journal) if i not in done]
        (out / "checkpoint" / "journal.jsonl").write_text("".join(kept) + '{"kind": "reply", "key": "x|0|fil')
        (out / "records.jsonl").write_text(records + '{"problem": "torn')
        summary = synthesize(config, images, out, progress=False)
        assert len(server.requests) == first_requests  # nothing re-sent: every reply came from the journal
    assert summary.stats["run"]["images_done_before"] == 4 and summary.stats["run"]["requests_replayed"] > 0
    assert (out / "records.jsonl").read_text() == records  # no duplicate, torn tail gone
    assert summary.stats["records"] == 10  # counters of earlier and replayed images both counted once
    assert all(count == 1 for count in roles.by_hash.values())
    # The rerun compacted the journal: only the replies of the images it had to finish are left.
    rows = read_jsonl(out / "checkpoint" / "journal.jsonl")
    assert {row["image"] for row in rows if row["kind"] == "reply"} == unfinished
    assert sum(row["kind"] == "image_done" for row in rows) == 6


def test_damaged_journal_line_is_a_clear_error(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"kind": "reply"}\nnot json\n{"kind": "reply"}\n')
    with pytest.raises(ValueError, match=r"journal.jsonl:2: damaged line"):
        list(DurableJsonl(path))


def test_endpoint_failure_lists_the_image_and_a_rerun_retries_it(images, tmp_path):
    target = list_images(images)[1]
    roles = ScriptedRoles(images)
    broken = {"on": True}

    def responder(request):
        if broken["on"] and roles._image_of(request) == target:
            return Reply(garbage=b"<html>bad gateway</html>")  # not a chat completion: not retried
        return roles(request)

    out = tmp_path / "out"
    with ScriptedOpenAIServer(responder) as server:
        summary = synthesize(make_config(server), images, out, progress=False)
        assert summary.images_failed == 1
        assert read_jsonl(out / "failed.jsonl")[0]["image_path"] == target
        assert target not in {r["image_path"] for r in read_jsonl(out / "records.jsonl")}
        broken["on"] = False
        summary = synthesize(make_config(server), images, out, progress=False)
    assert summary.images_failed == 0 and (out / "failed.jsonl").read_text() == ""
    assert summary.stats["run"]["images_processed"] == 1 and summary.stats["records"] == 18
    assert all(count == 1 for count in roles.by_hash.values())  # finished requests were never re-sent


def test_shards_partition_the_images(images, tmp_path):
    paths = list_images(images)
    shards = [{p for p in paths if in_shard(p, i, 3)} for i in range(3)]
    assert set().union(*shards) == set(paths) and sum(map(len, shards)) == len(paths)
    roles = ScriptedRoles(images)
    with ScriptedOpenAIServer(roles) as server:
        config = make_config(server)
        for index in range(2):
            synthesize(config, images, tmp_path / f"shard{index}", shard=(index, 2), progress=False)
        with pytest.raises(ValueError, match="holds a run for"):
            synthesize(config, images, tmp_path / "shard0", shard=(1, 2), progress=False)
        with open(tmp_path / "shard0" / "checkpoint" / "lock") as held:  # as if another run were going on
            fcntl.flock(held, fcntl.LOCK_EX)
            with pytest.raises(ValueError, match="in use by another synthesize run"):
                synthesize(config, images, tmp_path / "shard0", shard=(0, 2), progress=False)
    seen = [{r["image_path"] for r in read_jsonl(tmp_path / f"shard{i}" / "records.jsonl")} for i in range(2)]
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(paths)
    assert all(in_shard(p, 0, 2) for p in seen[0])
    assert all(count == 1 for count in roles.by_hash.values())
    assert len(roles.by_hash) == len({request_hash(r.body) for r in server.requests})


def test_worker_processes_share_the_run_and_its_concurrency(images, quirks, tmp_path):
    roles = ScriptedRoles(images, quirks=quirks)
    with ScriptedOpenAIServer(roles) as server:
        config = make_config(server, concurrency=3)
        summary = synthesize(config, images, tmp_path / "out", workers=2, progress=False)
    records = read_jsonl(tmp_path / "out" / "records.jsonl")
    assert len(records) == len({r["provenance"]["record_id"] for r in records}) == 10
    assert summary.stats["records"] == 10 and summary.stats["run"]["workers"] == 2
    assert summary.stats["run"]["client"]["vlm"]["requests"] == summary.stats["tokens_per_role"]["vlm"]["requests"]
    assert all(count == 1 for count in roles.by_hash.values())
    shares = [split_config(config, 2, j).roles["vlm"].endpoints[0].max_concurrency for j in range(2)]
    assert shares == [2, 1]
    with pytest.raises(ValueError, match="max_concurrency 3, fewer than --workers 4"):
        split_config(config, 4, 0)


def question(question_type="fill-in-the-blank", text="There are ___ red squares.", options=None, abilities=None):
    return {
        "question_type": question_type,
        "question": text,
        "options": options or {},
        "abilities": abilities or ["Reasoning", "Math"],
    }


@pytest.mark.parametrize(
    "record, reason",
    [
        (question("multiple-choice", "Which?", {"A": "x", "C": "y"}), "bad_options"),
        (question("multiple-choice", "Which?", {"A": "x", "B": "X"}), "forced"),
        (question("fill-in-the-blank", options={"A": "x"}), "bad_options"),
        (question("descriptive", "Is the square red?"), "forced"),
        (question("descriptive", "What do you think the artist felt?"), "open-ended"),
        (question(abilities=["Math", "OCR"]), "ability_synergy"),
        (question(abilities=["Reasoning"]), "ability_synergy"),
    ],
)
def test_prefilter_rejects_forced_open_ended_and_unbalanced_questions(record, reason):
    with pytest.raises(stages.Rejection) as caught:
        stages.prefilter(record)
    assert (caught.value.stage, caught.value.reason) == ("prefilter", reason)
    assert stages.prefilter(question()) == {"prefilter": "pass"}


def test_reasoner_answers_are_normalized_or_rejected():
    mc = question("multiple-choice", "How many?", {"A": "two", "B": "three"})
    reply = SimpleNamespace(text="<answer>three</answer>", reasoning="I count three squares.")
    assert stages._reasoned_answer(reply, mc, 8) == ("I count three squares.", "B")
    with pytest.raises(stages.Rejection, match="not one of the options"):
        stages._reasoned_answer(SimpleNamespace(text="<answer>seven</answer>", reasoning="..."), mc, 8)
    long_fib = SimpleNamespace(text="<think>so</think><answer>" + "word " * 9 + "</answer>", reasoning=None)
    with pytest.raises(stages.Rejection) as caught:
        stages._reasoned_answer(long_fib, question(), 8)
    assert caught.value.reason == "open-ended"
    with pytest.raises(parsing.MalformedReply, match="no extractable final answer"):
        stages._reasoned_answer(SimpleNamespace(text="I think it is 3", reasoning="hm"), question(), 8)
