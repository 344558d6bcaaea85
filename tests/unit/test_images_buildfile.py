"""Build-file parsing: the Dockerfile subset, its forms, and the sentences for bad input."""

from __future__ import annotations

import pytest

from boxkit.build.builder import Build, parse
from boxkit.errors import SpecError


def test_forms_and_continuations():
    steps = parse("""
# comment
FROM busybox
COPY a b /dst/
RUN echo one && \\
    echo two
RUN ["sh", "-c", "exit 0"]
ENV A=1 B="two words"
ENV C three
WORKDIR /app
CMD python3 app.py
ENTRYPOINT ["/init"]
""")
    assert [s.op for s in steps] == ["FROM", "COPY", "RUN", "RUN", "ENV", "ENV", "WORKDIR", "CMD", "ENTRYPOINT"]
    assert steps[1].args == ["a", "b", "/dst/"]
    assert steps[2].args == ["echo one &&  echo two"] and not steps[2].json_form
    assert steps[3].args == ["sh", "-c", "exit 0"] and steps[3].json_form
    assert steps[4].args == ["A=1", "B=two words"] and steps[5].args == ["C=three"]
    assert steps[8].args == ["/init"]


@pytest.mark.parametrize("text,match", [
    ("FROM busybox\nFROB x\n", "FROB"),
    ("RUN true\n", "first instruction must be FROM"),
    ("FROM busybox\nCOPY onlyone\n", "source and a destination"),
    ("FROM busybox\nCOPY --from=x a b\n", "not supported"),
    ("FROM busybox\nCMD [\"unterminated\n", "malformed JSON"),
    ("FROM busybox\nRUN\n", "needs an argument"),
])
def test_bad_build_files_name_the_problem(text, match):
    with pytest.raises(SpecError, match=match) as e:
        parse(text)
    assert str(e.value).startswith("invalid build file")


def test_python_api_gives_the_same_steps_as_the_file():
    api = Build("busybox").copy("app.py", "/app/").run("echo hi").env(A="1").workdir("/app").cmd(["sh"])
    text = parse('FROM busybox\nCOPY app.py /app/\nRUN echo hi\nENV A=1\nWORKDIR /app\nCMD ["sh"]\n')
    assert [s.text() for s in api.steps] == [s.text() for s in text]
