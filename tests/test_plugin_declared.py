"""Teams declare their teacher and students as fixtures (issue 9): plain `pytest` then runs every
built-in gate on them; a command-line spec replaces the declared fixture for that run; and only the selected gates'
work is done (none at all under --collect-only)."""

from __future__ import annotations

import json

import pytest
from tiny import save_tiny_bert

from conftest import NEGATIVE, POSITIVE, write_csv

TOY = '''
import numpy as np

CALLS = []


class Keyword:
    """Any object with predict_proba and label_names; its fingerprint lets its outputs be cached."""

    label_names = ("negative", "positive")

    def __init__(self, name, word="good"):
        self.name, self.word, self.fingerprint = name, word, f"keyword-{name}"

    def predict_proba(self, texts, text_pairs=None):
        CALLS.append((self.name, len(texts)))
        hit = np.array([self.word in t for t in texts], dtype=float)
        return np.stack([0.9 - 0.8 * hit, 0.1 + 0.8 * hit], axis=1)


def candidate():
    return Keyword("model", "good")
'''


@pytest.fixture
def team(pytester, monkeypatch):
    pytester.makepyfile(toy_models=TOY)
    pytester.syspathinsert()
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows * 2)
    pytester.makeini(
        "[pytest]\naddopts = --loyalty-data dev.csv -p no:cacheprovider -k 'not latency'\n"
        f"    --loyalty-cache-dir {pytester.path / 'cache'}\n"
    )
    return pytester


def test_declared_callable_models_are_gated_per_param(team):
    team.makeconftest("""
        import pytest
        from toy_models import Keyword

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return Keyword("teacher")

        @pytest.fixture(scope="session", params=["good", "bad"], ids=["loyal", "contrary"])
        def loyalty_student(request):
            return Keyword(f"student-{request.param}", request.param)
    """)
    result = team.runpytest("-v", "--loyalty-json", "r.json")
    result.stdout.fnmatch_lines(
        ["*loyalty: teacher loyalty_teacher fixture (*conftest.py); students loyalty_student fixture*"]
    )
    for gate in ("accuracy_drop", "label_loyalty", "probability_loyalty", "label_distribution"):
        result.stdout.fnmatch_lines([f"*test_{gate}[[]loyal[]] PASSED*"])
    result.stdout.fnmatch_lines(["*test_label_loyalty[[]contrary[]] FAILED*"])
    report = json.loads((team.path / "r.json").read_text())
    assert [s["spec"] for s in report["students"]] == ["loyal", "contrary"]
    assert report["students"][0]["fingerprint"] == "keyword-student-good"
    assert report["verdict"] == "FAILED" and result.ret == 1


def test_declared_hugging_face_pair_and_a_compressed_student(team, tmp_path):
    save_tiny_bert(tmp_path / "teacher")
    team.makeconftest(f"""
        import pytest
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from loyalty_tests import load_model
        from loyalty_tests.compress import compress

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return load_model({str(tmp_path / "teacher")!r})

        @pytest.fixture(scope="session", params=["int8"])
        def loyalty_student(request, loyalty_teacher):
            return compress(loyalty_teacher, request.param, progress=lambda message: None)
    """)
    result = team.runpytest("--loyalty-json", "r.json", "-k", "label_loyalty or probability_loyalty")
    result.assert_outcomes(passed=2, deselected=12)  # the classifier gates + 4 LM gates collected
    report = json.loads((team.path / "r.json").read_text())
    assert report["students"][0]["spec"] == "int8" and report["students"][0]["fingerprint"]
    # the second run reads both models' predictions from the cache (declared models are fingerprinted)
    again = team.runpytest("--loyalty-json", "r2.json", "-k", "label_loyalty")
    again.assert_outcomes(passed=1, deselected=13)
    phases = json.loads((team.path / "r2.json").read_text())["phases"]
    assert [p["cached"] for p in phases if p["phase"] == "predict"] == [True, True]


def test_declared_onnx_student(team, tmp_path):
    pytest.importorskip("onnxruntime")
    from loyalty_tests import load_model
    from loyalty_tests.compress import compress

    teacher_dir = save_tiny_bert(tmp_path / "teacher")
    onnx = compress(load_model(str(teacher_dir)), "onnx-int8", cache_dir=tmp_path / "export", progress=lambda m: None)
    team.makeconftest(f"""
        import pytest
        from loyalty_tests import load_model

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return load_model({str(teacher_dir)!r})

        @pytest.fixture(scope="session")
        def loyalty_student():
            options = __import__("loyalty_tests").ModelOptions(tokenizer={str(teacher_dir)!r})
            return load_model({onnx.path!r}, options=options)
    """)
    result = team.runpytest("-k", "probability_loyalty", "-v")
    result.stdout.fnmatch_lines(["*test_probability_loyalty PASSED*"])


DECLARED_PAIR = """
    import pytest
    from toy_models import Keyword

    @pytest.fixture(scope="session")
    def loyalty_teacher():
        return Keyword("teacher")

    @pytest.fixture(scope="session", params=["good", "bad"], ids=["loyal", "contrary"])
    def loyalty_student(request, loyalty_teacher):
        return Keyword(f"student-{request.param}", request.param)
"""


def test_the_command_line_student_replaces_the_declared_one_for_that_run(team):
    """pytest's precedence: command line over configuration; the header says the fixture was replaced."""
    team.makeconftest(DECLARED_PAIR)
    team.makepyfile(test_team="def test_teams_own(student):\n    assert student.fingerprint == 'keyword-model'\n")
    result = team.runpytest("-v", "--student", "candidate=toy_models:candidate", "--loyalty-json", "r.json")
    result.stdout.fnmatch_lines(
        [
            "*loyalty: teacher loyalty_teacher fixture (*conftest.py); students "
            "candidate=toy_models:candidate (--student, replacing the loyalty_student fixture "
            "in *conftest.py for this run)*"
        ]
    )
    result.stdout.fnmatch_lines(["*test_label_loyalty[[]candidate[]] PASSED*"])
    result.stdout.no_fnmatch_line("*[[]loyal[]]*")
    result.stdout.no_fnmatch_line("*[[]contrary[]]*")
    report = json.loads((team.path / "r.json").read_text())
    assert [s["spec"] for s in report["students"]] == ["candidate"]
    # the factory's own name, not the declared fixture's Keyword("student-good")
    assert report["students"][0]["fingerprint"] == "keyword-model"
    assert report["verdict"] == "PASSED" and result.ret == 0
    # the team's own test sees the command-line student too
    result.stdout.fnmatch_lines(["*test_teams_own[[]candidate[]] PASSED*"])


def test_the_command_line_teacher_replaces_the_declared_one_everywhere(team):
    """A declared student built from loyalty_teacher gets the command-line teacher too."""
    team.makeconftest(
        DECLARED_PAIR.replace(
            'return Keyword(f"student-{request.param}", request.param)',
            'return Keyword(f"from-{loyalty_teacher.fingerprint}-{request.param}", request.param)',
        )
    )
    team.makepyfile(
        other_models="""
        from toy_models import Keyword

        def make():
            return Keyword("replacement", "good")
    """
    )
    result = team.runpytest("-v", "--teacher", "other_models:make", "--loyalty-json", "r.json")
    result.stdout.fnmatch_lines(
        [
            "*loyalty: teacher other_models:make (--teacher, replacing the loyalty_teacher "
            "fixture in *conftest.py for this run); students loyalty_student fixture*"
        ]
    )
    report = json.loads((team.path / "r.json").read_text())
    assert report["teacher_fingerprint"] == "keyword-replacement"
    assert [s["fingerprint"] for s in report["students"]] == [
        "keyword-from-keyword-replacement-good",
        "keyword-from-keyword-replacement-bad",
    ]
    result.stdout.fnmatch_lines(["*test_label_loyalty[[]contrary[]] FAILED*"])


def test_without_the_command_line_the_declared_fixtures_serve(team):
    team.makeconftest(DECLARED_PAIR)
    result = team.runpytest("-v", "-k", "label_loyalty")
    result.stdout.fnmatch_lines(["*test_label_loyalty[[]loyal[]] PASSED*", "*test_label_loyalty[[]contrary[]] FAILED*"])
    result.stdout.no_fnmatch_line("*replacing*")


def test_a_declared_student_without_a_teacher_is_an_error(team):
    team.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def loyalty_student():
            return None
    """)
    result = team.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*students need a teacher*declare a loyalty_teacher fixture*"])


def test_an_unrelated_fixture_named_teacher_does_not_reach_the_gates(team):
    team.makeconftest("""
        import pytest
        from toy_models import Keyword

        @pytest.fixture(scope="session")
        def teacher():
            return "the school's physics teacher"  # an unrelated fixture of the team's

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return Keyword("teacher")

        @pytest.fixture(scope="session")
        def loyalty_student():
            return Keyword("student")
    """)
    result = team.runpytest("-k", "label_loyalty")
    result.assert_outcomes(passed=1, deselected=13)


COUNTING = """
    import pytest
    import toy_models
    from toy_models import Keyword

    @pytest.fixture(scope="session")
    def loyalty_teacher():
        return Keyword("teacher")

    @pytest.fixture(scope="session")
    def loyalty_student():
        return Keyword("student")

    def pytest_sessionfinish(session):
        print(f"MODEL CALLS {len(toy_models.CALLS)}")
"""


def test_collect_only_does_no_model_work(team):
    team.makeconftest(COUNTING)
    result = team.runpytest("--collect-only", "--attack", "charswap", "-s")
    result.stdout.fnmatch_lines(["*test_robustness*", "*MODEL CALLS 0"])


def test_a_deselected_attack_costs_nothing(team):
    team.makeconftest(COUNTING)
    selected = team.runpytest("--attack", "charswap", "--attack-examples", "6", "-k", "label_loyalty", "-s")
    selected.assert_outcomes(passed=1, deselected=13)
    # two prediction calls (teacher and student on the data), no attack queries
    selected.stdout.fnmatch_lines(["*MODEL CALLS 2"])
    attacked = team.runpytest(
        "--attack", "charswap", "--attack-examples", "6", "--loyalty-no-cache", "-k", "robustness", "-s"
    )
    attacked.assert_outcomes(passed=1, deselected=13)
    calls = int(attacked.stdout.str().split("MODEL CALLS ")[1].split()[0])
    assert calls > 2  # the attack queried both models
