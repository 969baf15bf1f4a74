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
    def load(cls, path: Optional[Union[str, Path]], default: str) -> "PromptTemplate":
        """The template file at `path`, or the shipped default `default` (e.g. "knowledge.txt")."""
        if path:
            return cls.parse(Path(path).read_text(encoding="utf8"), source=str(path))
        shipped = resources.files(__package__).joinpath("prompts", default)
        return cls.parse(shipped.read_text(encoding="utf8"), source=f"default {default}")

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
