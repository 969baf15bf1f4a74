"""The command-line layer: typer lives in spacy_ita/cli/ only, the library's packages do not
import each other both ways, no module of spacy_ita is in an import circle, no command function
shares its name with a library function, and commands that build the same generators take the
same options."""

import ast
import subprocess
import sys
from pathlib import Path

import typer
from typer.main import get_command

import spacy_ita
from spacy_ita.cli import app, register_commands
from spacy_ita.cli.options import GeneratorOptions

PACKAGE = Path(spacy_ita.__file__).parent


def imported_modules(path: Path):
    """Absolute names of the modules a file imports anywhere in it (at the top, inside functions;
    relative imports resolved); `from a import x` yields a and a.x (x may be a module)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """{module: the spacy_ita modules it imports}. A module's own packages are left out: Python
    imports them before the module itself, so importing one back never closes a circle."""
    paths = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    return {
        name: {
            target
            for target in imported_modules(path)
            if target in paths and target != name and not name.startswith(target + ".")
        }
        for name, path in paths.items()
    }


def circles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def library_modules():
    """Every module but the CLI layer and `python -m spacy_ita` (__main__.py, which runs it)."""
    return [
        path
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py"
    ]


def importers(paths, prefix: str):
    """The files among `paths` that import `prefix` or a module under it."""
    return [
        str(path.relative_to(PACKAGE))
        for path in paths
        if any(name == prefix or name.startswith(prefix + ".") for name in imported_modules(path))
    ]


def test_no_module_outside_cli_imports_typer():
    assert importers(library_modules(), "typer") == []


def test_no_library_module_imports_the_cli_layer():
    assert importers(library_modules(), "spacy_ita.cli") == []


def test_no_import_circle_between_spacy_ita_modules():
    """Issue #33: a circle makes the order modules load in matter and hides which module owns a
    rule. A lazy import inside a function counts: it defers the circle, it does not cut it."""
    graph = import_graph()
    assert "spacy_ita.batch.posts" in graph["spacy_ita.batch.jobs"]  # the reader sees the imports
    assert "spacy_ita.generators.demonstrations" in graph["spacy_ita.generators.knowledge"]
    assert "spacy_ita.generators" not in graph["spacy_ita.generators.job"]  # its own package
    assert circles(graph) == [], "import circles: " + "; ".join(" <-> ".join(c) for c in circles(graph))


def test_circles_are_found_through_relative_and_function_level_imports(tmp_path, monkeypatch):
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    package = tmp_path / "spacy_ita"
    (package / "generators").mkdir(parents=True)
    for name in ("__init__.py", "text_repair.py", "generators/__init__.py", "generators/demonstrations.py"):
        (package / name).write_text("", encoding="utf8")
    (package / "generators" / "job.py").write_text("from .knowledge import LLMKnowledge\n", encoding="utf8")
    (package / "generators" / "knowledge.py").write_text(
        "from .. import text_repair\n\ndef pool():\n    from .job import read_demonstration_posts\n", encoding="utf8"
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE", package)
    graph = import_graph()
    assert graph["spacy_ita.generators.knowledge"] == {"spacy_ita.text_repair", "spacy_ita.generators.job"}
    assert circles(graph) == [["spacy_ita.generators.job", "spacy_ita.generators.knowledge"]]


def test_no_command_function_shares_a_library_function_name():
    """Issue #33: `generate_contexts` was both the command and the job, imported under an alias."""
    register_commands()
    commands = {info.callback.__name__ for info in app.registered_commands}
    assert "generate_contexts_command" in commands
    library = {
        f"{path.relative_to(PACKAGE)}:{node.name}"
        for path in library_modules()
        for node in ast.parse(path.read_text(encoding="utf8")).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in commands
    }
    assert library == set()


def test_aligners_do_not_import_batch():
    """batch/ runs the aligner (steps.ContextAligner); the aligner knows nothing of batch jobs."""
    assert importers((PACKAGE / "aligners").glob("*.py"), "spacy_ita.batch") == []


def test_a_batch_worker_loads_no_command():
    """What a Ray actor imports (batch/steps.py, batch/ray_engine.py) pulls in none of our CLI
    code. (typer itself is loaded by `import spacy`, whose __init__ imports spacy.cli.)"""
    code = (
        "import sys, spacy_ita.batch.steps, spacy_ita.batch.ray_engine, spacy_ita.evaluate, spacy_ita.assemble; "
        "print(sorted(m for m in sys.modules if m.startswith('spacy_ita.cli')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def options_of(command_name: str):
    register_commands()
    command = getattr(get_command(app), "commands")[command_name]
    return {opt for param in command.params if param.param_type_name == "option" for opt in param.opts}


def test_assemble_and_generate_contexts_take_every_generator_option():
    generator_options = {f"--{name.replace('_', '-')}" for name in GeneratorOptions.__dataclass_fields__}
    generator_options.remove("--knowledge-model")
    generator_options |= {"--knowledge-model", "--model"}  # generate-contexts' name, kept as an alias
    for command in ("assemble", "generate-contexts"):
        assert generator_options <= options_of(command), command


def test_the_bundled_options_reach_the_command_as_one_object(tmp_path):
    seen = {}

    from spacy_ita.cli.options import with_generator_options

    @with_generator_options
    def command(name: str, generators: GeneratorOptions, flag: bool = False) -> None:
        seen.update(name=name, generators=generators, flag=flag)

    runner_app = typer.Typer()
    runner_app.command()(command)
    from typer.testing import CliRunner

    args = ["x", "--base-url", "http://h/v1", "--model", "m", "--k", "0", "--max-words", "30", "--flag"]
    result = CliRunner().invoke(runner_app, args)
    assert result.exit_code == 0, result.output
    options = seen["generators"]
    assert (seen["name"], seen["flag"]) == ("x", True)
    assert (options.knowledge_model, options.k, options.max_words) == ("m", 0, 30)
    knowledge = options.configs()["knowledge"]
    assert knowledge["max_words"] == 30 and "max_tokens" not in knowledge  # unset: the registered default


def test_a_description_prompt_without_a_description_model_is_an_error(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="--description-prompt needs --description-model"):
        GeneratorOptions(base_url="http://h/v1", knowledge_model="q", description_prompt=tmp_path / "p.txt").configs()


RAY_ONLY_OPTIONS = {"address", "workers", "cpus_per_worker", "gpus_per_worker"}


def test_every_option_of_every_command_says_what_it_does():
    """--help is where a new user reads the commands: no option without help, and the
    Ray-only options say so (`--engine ray:`), as in every command that has them."""
    register_commands()
    command = get_command(app)
    assert {"annotate", "align-images", "generate-contexts", "evaluate-views"} <= set(command.commands)
    missing, unmarked = [], []
    for name, sub in command.commands.items():
        for param in sub.params:
            if param.param_type_name != "option" or param.name == "help":
                continue
            if not (param.help or "").strip():
                missing.append(f"{name} {param.opts[0]}")
            elif param.name in RAY_ONLY_OPTIONS and not param.help.startswith("--engine ray:"):
                unmarked.append(f"{name} {param.opts[0]}")
    assert not missing, f"options without help: {missing}"
    assert not unmarked, f"Ray-only options not marked '--engine ray:': {unmarked}"
