"""Synthesis provenance: journaled replies are keyed by what decides their content, a resume with another config is
refused (or, when allowed, sends new requests), stats count every written record, reply parsing is linear."""

from __future__ import annotations

import json
import time

import pytest

from dataset_builder.synthesis import list_images, parse_config, parsing, synthesize
from dataset_builder.synthetic import write_synthetic_release
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer
from tests.doubles.synthesis_roles import ScriptedRoles

ROLES = ("vlm", "reasoner", "judge")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_synthetic_release(tmp_path_factory.mktemp("release"), 4, seed=5).images_root


def make_config(server, *, judge_model="Qwen/Qwen2.5-72B-Instruct", seed=7):
    def endpoint(role):
        model = {"judge": {"model": judge_model}}.get(role, {})
        return {"base_url": server.base_url, "max_concurrency": 4, "timeout": 10, "sampling": {"seed": seed}, **model}

    pipeline = {"max_refinement_turns": 1, "backoff_base": 0.01}
    return parse_config({"roles": {role: {"endpoints": [endpoint(role)]} for role in ROLES}, "pipeline": pipeline})


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def forget_last_images(out, count):
    """As if the run had been killed before its last `count` images were marked done; returns those images."""
    journal = out / "checkpoint" / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    done = [i for i, line in enumerate(lines) if '"kind": "image_done"' in line][-count:]
    journal.write_text("".join(line for i, line in enumerate(lines) if i not in done))
    return {json.loads(lines[i])["image"] for i in done}


def test_resume_with_another_config_is_refused_saying_what_changed(images, tmp_path):
    out = tmp_path / "out"
    with ScriptedOpenAIServer(ScriptedRoles(images)) as server:
        synthesize(make_config(server), images, out, progress=False)
        with pytest.raises(ValueError) as caught:
            synthesize(make_config(server, judge_model="other/judge", seed=8), images, out, progress=False)
    message = str(caught.value)
    assert 'roles.judge.models: ["Qwen/Qwen2.5-72B-Instruct"] -> ["other/judge"]' in message
    assert "roles.vlm.sampling" in message and "--allow-config-change" in message
    assert "roles.vlm.models" not in message  # only what changed is named


def test_changed_sampling_sends_new_requests_and_keeps_old_replies_unused(images, tmp_path):
    out = tmp_path / "out"
    roles = ScriptedRoles(images)
    with ScriptedOpenAIServer(roles) as server:
        first = synthesize(make_config(server), images, out, progress=False)
        sent_before = len(server.requests)
        unfinished = forget_last_images(out, 2)
        again = synthesize(make_config(server, seed=8), images, out, progress=False, allow_config_change=True)
        new_requests = server.requests[sent_before:]
    # The two unfinished images were asked again under the new sampling settings; nothing was replayed.
    assert again.stats["run"]["requests_replayed"] == 0 and again.stats["run"]["requests_sent"] == len(new_requests)
    assert new_requests and all(request.body["seed"] == 8 for request in new_requests)
    replies = [row for row in read_jsonl(out / "checkpoint" / "journal.jsonl") if row["kind"] == "reply"]
    assert {row["image"] for row in replies} == unfinished
    per_logical_request = {}
    for row in replies:
        logical, _, digest = row["key"].partition("#")
        per_logical_request.setdefault(logical, set()).add(digest)
    assert per_logical_request and all(len(digests) == 2 for digests in per_logical_request.values())
    assert again.stats["records"] == first.stats["records"] == len(read_jsonl(out / "records.jsonl"))
    run = json.loads((out / "checkpoint" / "run.json").read_text())
    assert run["config"]["roles"]["vlm"]["sampling"] == ['{"seed": 8}']
    assert run["earlier_configs"][0]["roles"]["vlm"]["sampling"] == ['{"seed": 7}']


def test_stats_count_the_records_of_an_image_that_failed_later(images, tmp_path):
    target = list_images(images)[0]
    roles = ScriptedRoles(images)

    def responder(request):
        # The last question's reasoning rewrite fails for good: its earlier questions' records are already written.
        if (
            "stage=refine_cot" in request.last_text
            and "(q2)" in request.last_text
            and roles._image_of(request) == target
        ):
            return Reply(garbage=b"<html>bad gateway</html>")
        return roles(request)

    out = tmp_path / "out"
    with ScriptedOpenAIServer(responder) as server:
        summary = synthesize(make_config(server), images, out, progress=False)
    records = read_jsonl(out / "records.jsonl")
    assert summary.images_failed == 1 and sum(r["image_path"] == target for r in records) == 2
    assert summary.stats["records"] == len(records) == 3 * 4 - 1
    assert summary.stats["images"] == 3  # the failed image is not finished: a rerun completes it
    # Every answered request is counted, the failed image's too; the one that failed got no reply to count.
    assert summary.stats["run"]["requests_sent"] == len(server.requests) - 1


def _best_time(function, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("make_reply", [lambda n: "<caption>" * (n // 9), lambda n: "<think>" + "x<think>" * (n // 8)])
def test_tag_parsing_grows_linearly_with_an_unclosed_tag_reply(make_reply):
    """A quadratic parser takes 16x longer on a 4x longer reply; a linear one about 4x (bound: 8x)."""
    small, large = make_reply(250_000), make_reply(1_000_000)

    def parse(text):
        return lambda: (parsing.tagged(text, "caption", required=False), parsing.think_and_rest(text))

    assert _best_time(parse(large)) < 8 * _best_time(parse(small)) + 1e-3
    assert parsing.tagged(make_reply(60_000), "caption", required=False) is None


def test_cli_refuses_a_changed_config_unless_allowed(images, tmp_path, capsys):
    import yaml

    from dataset_builder.__main__ import main as cli_main

    out, config = tmp_path / "out", tmp_path / "synthesis.yaml"
    with ScriptedOpenAIServer(ScriptedRoles(images)) as server:

        def write_config(temperature):
            endpoint = {"base_url": server.base_url, "max_concurrency": 4, "sampling": {"temperature": temperature}}
            roles = {role: {"endpoints": [endpoint]} for role in ROLES}
            config.write_text(yaml.safe_dump({"roles": roles, "pipeline": {"backoff_base": 0.01}}))

        argv = [
            "synthesize",
            "--images",
            str(images),
            "--config",
            str(config),
            "--output-dir",
            str(out),
            "--no-progress",
        ]
        write_config(0.7)
        assert cli_main(argv) == 0
        write_config(0.2)
        assert cli_main(argv) == 1
        assert (
            'roles.reasoner.sampling: ["{\\"temperature\\": 0.7}"] -> ["{\\"temperature\\": 0.2}"]'
            in capsys.readouterr().err
        )
        assert cli_main([*argv, "--allow-config-change"]) == 0
