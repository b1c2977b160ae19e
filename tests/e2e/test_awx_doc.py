"""docs/awx.md's JSON (credential type, extra vars, survey) against the playbook it drives."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.e2e.conftest import ROOT

DOC = ROOT / "docs" / "awx.md"
PLAYBOOK = ROOT / "playbooks" / "rolling_upgrade.yml"
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
FIELD_TYPES = {"string", "boolean"}


def _block(marker: str) -> object:
    """The JSON code block that follows ``<!-- awx:<marker> -->`` in the doc."""
    match = re.search(
        rf"<!-- awx:{marker} -->\s*```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S
    )
    assert match, f"docs/awx.md has no JSON block marked awx:{marker}"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def playbook_vars() -> set[str]:
    """The fenix_* variables the playbook reads."""
    text = PLAYBOOK.read_text(encoding="utf-8")
    yaml.safe_load(text)  # it must at least be YAML
    return set(re.findall(r"\bfenix_[a-z_]+\b", text))


def test_survey_asks_only_for_variables_the_playbook_reads(playbook_vars):
    survey = _block("survey_spec")
    assert survey["name"] and survey["description"]
    variables = [q["variable"] for q in survey["spec"]]
    assert len(variables) == len(set(variables)), "a variable is asked twice"
    assert set(variables) <= playbook_vars
    assert "fenix_hosts_group" in variables


@pytest.mark.parametrize("index", range(len(_block("survey_spec")["spec"])))
def test_each_survey_question_is_well_formed(index):
    question = _block("survey_spec")["spec"][index]
    for key in ("question_name", "variable", "type", "required", "default"):
        assert key in question, f"{question.get('variable')}: no {key}"
    assert question["type"] in SURVEY_TYPES
    assert isinstance(question["required"], bool)
    if question["type"] in ("multiplechoice", "multiselect"):
        assert question["default"] in question["choices"]
    if question["type"] == "integer":
        assert isinstance(question["default"], int)
        assert question["min"] <= question["default"] <= question["max"]
    if question["type"] in ("text", "textarea"):
        assert question.get("min", 0) <= len(question["default"]) <= question.get("max", 1024)
    if question["variable"] in ("fenix_actions", "fenix_metadata"):
        json.loads(question["default"])  # the playbook parses the textarea as JSON


def test_credential_type_injects_what_the_modules_and_playbook_read(playbook_vars):
    credential = _block("credential_type")
    fields = {f["id"]: f for f in credential["inputs"]["fields"]}
    assert all(f["type"] in FIELD_TYPES for f in fields.values())
    assert fields["token"]["secret"] is True
    assert set(credential["inputs"]["required"]) <= set(fields)
    injectors = credential["injectors"]
    # The modules fall back to these environment variables (CONTROLLER_ARGSPEC).
    assert set(injectors["env"]) == {"FENIX_URL", "FENIX_TOKEN"}
    assert set(injectors["extra_vars"]) <= playbook_vars
    for template in [*injectors["env"].values(), *injectors["extra_vars"].values()]:
        used = set(re.findall(r"{{\s*(\w+)\s*}}", template))
        assert used and used <= set(fields), f"{template} names an unknown field"


def test_extra_vars_are_playbook_variables(playbook_vars):
    extra = _block("extra_vars")
    assert set(extra) <= playbook_vars
    assert isinstance(extra["fenix_actions"], list)


def test_modules_read_the_injected_environment():
    client = (ROOT / "plugins" / "module_utils" / "_controller_client.py").read_text()
    assert '"FENIX_URL"' in client and '"FENIX_TOKEN"' in client


PLAYBOOKS = ROOT / "playbooks"
JOB_TYPES = {"run", "check"}
LINK_KINDS = ("success_nodes", "failure_nodes", "always_nodes")


def _vars_of(playbook: str) -> set[str]:
    text = (ROOT / playbook).read_text(encoding="utf-8")
    yaml.safe_load(text)
    return set(re.findall(r"\bfenix_[a-z_]+\b", text))


def test_job_templates_run_playbooks_of_this_project():
    templates = _block("job_templates")
    names = [t["name"] for t in templates]
    assert len(names) == len(set(names))
    for template in templates:
        assert template["job_type"] in JOB_TYPES
        assert (ROOT / template["playbook"]).is_file(), template["playbook"]
        assert template["playbook"].startswith("playbooks/")
    # The rolling upgrade is the job template of step 5.
    [upgrade] = [t for t in templates if t["playbook"] == "playbooks/rolling_upgrade.yml"]
    assert f"| Name | {upgrade['name']} |" in DOC.read_text(encoding="utf-8")


def _workflow_graph() -> tuple[dict[str, dict], dict[str, list[tuple[str, str]]]]:
    workflow = _block("workflow_job_template")
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    assert len(nodes) == len(workflow["workflow_nodes"]), "an identifier is used twice"
    links = {
        identifier: [
            (kind, target["identifier"])
            for kind in LINK_KINDS
            for target in node.get("related", {}).get(kind, [])
        ]
        for identifier, node in nodes.items()
    }
    return nodes, links


def test_workflow_nodes_link_only_to_nodes_and_templates_that_exist():
    nodes, links = _workflow_graph()
    templates = {t["name"] for t in _block("job_templates")}
    for identifier, node in nodes.items():
        template = node["unified_job_template"]
        if template["type"] == "job_template":
            assert template["name"] in templates, (
                f"{identifier}: no job template {template['name']}"
            )
        else:
            assert template["type"] == "workflow_approval"
            assert isinstance(template["timeout"], int) and template["timeout"] > 0
        assert set(node.get("related", {})) <= set(LINK_KINDS)
        for link in links[identifier]:
            target = link[1]
            assert target in nodes, f"{identifier} links to unknown node {target}"


def test_workflow_is_pre_check_approval_upgrade_then_post_check_always():
    nodes, links = _workflow_graph()
    linked_to = {link[1] for targets in links.values() for link in targets}
    [root] = [i for i in nodes if i not in linked_to]
    playbook_of = {t["name"]: t["playbook"] for t in _block("job_templates")}
    chain, current = [], root
    while True:
        template = nodes[current]["unified_job_template"]
        if template["type"] == "job_template":
            chain.append(playbook_of[template["name"]])
        else:
            chain.append(template["type"])
        if not links[current]:
            break
        [(kind, current)] = links[current]
        chain.append(kind)
    assert chain == [
        "playbooks/pre_check.yml",
        "success_nodes",
        "workflow_approval",
        "success_nodes",
        "playbooks/rolling_upgrade.yml",
        "always_nodes",
        "playbooks/post_check.yml",
    ]


def test_workflow_and_credential_variables_reach_every_playbook_of_the_workflow():
    workflow = _block("workflow_job_template")
    credential = _block("credential_type")
    for template in _block("job_templates"):
        playbook_vars = _vars_of(template["playbook"])
        assert set(workflow["extra_vars"]) - {"fenix_wait_timeout"} <= playbook_vars, template
        assert set(credential["injectors"]["extra_vars"]) <= playbook_vars, template
    assert set(workflow["extra_vars"]) <= _vars_of("playbooks/rolling_upgrade.yml")
