"""Prompt templates: plain text files a user can replace, shipped with defaults.

A template has a `[system]` section (the instruction) and a `[user]` section (the
message for one item, with `string.Template` placeholders such as `$text` and
`$contexts`; `$$` is a literal dollar). Example:

    [system]
    List the named entities of the post ...
    [user]
    Text: $text
    $contexts
"""

import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

from ..pipeline_data import PipelineData, check_data_file
from ..visual_context import context_pieces

SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)
# How each kind of existing context is introduced to the model.
CONTEXT_LABELS = {
    "caption": "Image caption",
    "objects": "Objects in the image",
    "ocr": "Text in the image",
    "description": "Image description",
    "knowledge": "Knowledge",
    "kb": "Knowledge base",
}
NO_CONTEXT = "Image: nothing known"


@dataclass(frozen=True)
class PromptTemplate:
    system: str
    user: str
    source: str = ""

    @classmethod
    def parse(cls, text: str, source: str = "") -> "PromptTemplate":
        """Raises ValueError when a section is missing or repeated."""
        found = SECTION.findall(text)
        if sorted(found) != ["system", "user"]:
            raise ValueError(
                f"{source or 'prompt template'}: expected one [system] and one [user] section, found {found}"
            )
        parts = SECTION.split(text)
        sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}
        return cls(system=sections["system"], user=sections["user"], source=source)

    @classmethod
    def read(cls, path: Union[str, Path]) -> "PromptTemplate":
        """The template file at `path`. Raises FileNotFoundError, IsADirectoryError (a folder),
        ValueError (not UTF-8 text, or a section missing or repeated), each naming the file."""
        path = check_data_file(path, "prompt template")
        try:
            text = path.read_text(encoding="utf8")
        except UnicodeDecodeError as err:
            raise ValueError(f"prompt template {path} is not UTF-8 text: {err.reason} at byte {err.start}") from None
        return cls.parse(text, source=str(path))

    @classmethod
    def shipped(cls, name: str) -> "PromptTemplate":
        """A template shipped with the package (`prompts/<name>`, e.g. "knowledge.txt")."""
        shipped = resources.files(__package__).joinpath("prompts", name)
        return cls.parse(shipped.read_text(encoding="utf8"), source=f"default {name}")

    @classmethod
    def load(cls, path: Optional[Union[str, Path]], default: str) -> "PromptTemplate":
        """The template file at `path`, or the shipped default `default` (e.g. "knowledge.txt")."""
        return cls.read(path) if path else cls.shipped(default)

    @classmethod
    def declare(cls, data: PipelineData, path: Optional[Union[str, Path]], default: str) -> None:
        """Declare the template as item "prompt" of a backend's `data`: read on first use, the
        user's file carried in the pipeline (pipeline_data.py), the shipped default without one."""
        data.add_file("prompt", path, read=cls.read, default=lambda: cls.shipped(default), what="prompt template")

    def render_user(self, **values: Any) -> str:
        """Raises ValueError for a placeholder the template names and no value fills."""
        try:
            return string.Template(self.user).substitute(values).strip()
        except KeyError as err:
            raise ValueError(f"{self.source}: unknown placeholder ${err.args[0]} (known: {sorted(values)})") from None


def render_contexts(context: Optional[Dict[str, Any]], kinds: Iterable[str]) -> str:
    """One `Label: text` line per non-empty kind of `context` among `kinds`."""
    lines = [f"{CONTEXT_LABELS[kind]}: {text}" for kind, text in context_pieces(context, kinds)]
    return "\n".join(lines) or NO_CONTEXT


def clean_answer(text: Optional[str], max_words: int) -> str:
    """Whitespace collapsed to single spaces and at most `max_words` words; "" for None."""
    words = (text or "").split()
    return " ".join(words[:max_words])
