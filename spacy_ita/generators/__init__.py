"""Contexts written by generative models behind an OpenAI-compatible endpoint:
`knowledge` (an LLM's reading of a post, PGIM's way) and `description` (a VLM's
description and transcription of an image); and `kb`, retrieved from knowledge bases
about the entities a post names (no model)."""

from .client import ChatAnswer, ChatEndpoint, GenerationSummary, create_chat_endpoint
from .demonstrations import (
    Demonstration,
    DemonstrationSelector,
    SentenceEmbedder,
    read_demonstration_posts,
    read_demonstrations,
)
from .description import VLMDescription, create_vlm_description, image_data_url
from .job import generate_contexts
from .kb import KBIndex, KBRetriever, create_kb_retriever
from .kb_sources import PACKAGED_SOURCES, KBRecord, read_kb_file
from .knowledge import LLMKnowledge, create_llm_knowledge
from .prompts import PromptTemplate, clean_answer, render_contexts

__all__ = [
    "ChatAnswer",
    "ChatEndpoint",
    "Demonstration",
    "DemonstrationSelector",
    "GenerationSummary",
    "KBIndex",
    "KBRecord",
    "KBRetriever",
    "PACKAGED_SOURCES",
    "LLMKnowledge",
    "PromptTemplate",
    "SentenceEmbedder",
    "VLMDescription",
    "clean_answer",
    "create_chat_endpoint",
    "create_kb_retriever",
    "create_llm_knowledge",
    "create_vlm_description",
    "generate_contexts",
    "image_data_url",
    "read_demonstration_posts",
    "read_demonstrations",
    "read_kb_file",
    "render_contexts",
]
