"""spacy-ita: multimodal NER (Image-Text Alignments) as spaCy components.

Entry points make every factory and registry function known to spaCy as soon as
the distribution is installed, so a packaged pipeline loads with `spacy.load`
without importing `spacy_ita` by hand.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name):
    lines = (HERE / name).read_text(encoding="utf8").splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip() and not ln.startswith("-")]


setup(
    name="spacy-ita",
    version="0.1.0",
    description="Multimodal named entity recognition after ITA (Image-Text Alignments) as a modular spaCy pipeline",
    long_description=(HERE / "README.md").read_text(encoding="utf8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],
    classifiers=[
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
        "Intended Audience :: Science/Research",
        "Intended Audience :: Developers",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Text Processing :: Linguistic",
    ],
    packages=find_packages(include=["spacy_ita", "spacy_ita.*"]),
    # py.typed: the package is typed (PEP 561); the generators' prompt templates are replaceable
    # defaults (README: Generated contexts).
    # serve/page: the service's page (HTML, CSS, JS; no CDN).
    package_data={
        "spacy_ita": ["py.typed"],
        "spacy_ita.generators": ["prompts/*.txt"],
        "spacy_ita.serve": ["page/*"],
    },
    zip_safe=False,
    python_requires=">=3.9",
    install_requires=read_requirements("requirements.txt"),
    extras_require={
        "ray": read_requirements("requirements-ray.txt"),
        "llm": read_requirements("requirements-llm.txt"),
        "kb": read_requirements("requirements-kb.txt"),
        "serve": read_requirements("requirements-serve.txt"),
    },
    entry_points={
        "spacy_factories": [
            "image_aligner = spacy_ita.aligners.component:make_image_aligner",
            "ita_ner = spacy_ita.ner.component:make_ita_ner",
        ],
        "spacy_architectures": [
            "spacy_ita.ITATagger.v1 = spacy_ita.ner.architecture:build_ita_tagger",
        ],
        "spacy_readers": [
            "spacy_ita.MNERCorpus.v1 = spacy_ita.data.corpus:create_mner_corpus",
        ],
        "spacy_misc": [
            "spacy_ita.EasyOCR.v1 = spacy_ita.aligners.ocr:create_easyocr_backend",
            "spacy_ita.RapidOCR.v1 = spacy_ita.aligners.ocr:create_rapidocr_backend",
            "spacy_ita.YOLODetector.v1 = spacy_ita.aligners.detector:create_yolo_backend",
            "spacy_ita.HFCaptioner.v1 = spacy_ita.aligners.captioner:create_hf_captioner",
            "spacy_ita.AlignmentCache.v1 = spacy_ita.aligners.cache:create_alignment_cache",
            "spacy_ita.ChatEndpoint.v1 = spacy_ita.generators.client:create_chat_endpoint",
            "spacy_ita.LLMKnowledge.v1 = spacy_ita.generators.knowledge:create_llm_knowledge",
            "spacy_ita.KBRetriever.v1 = spacy_ita.generators.kb:create_kb_retriever",
            "spacy_ita.VLMDescription.v1 = spacy_ita.generators.description:create_vlm_description",
            "spacy_ita.installed_model_dir.v1 = spacy_ita.resources:installed_model_dir",
        ],
        # The tag heads an ITATagger names (`head = ...`), in spacy_ita's own registry.
        "spacy_ita_heads": [
            "spacy_ita.crf.v1 = spacy_ita.ner.crf:LinearChainCRF",
            "spacy_ita.softmax.v1 = spacy_ita.ner.heads:SoftmaxHead",
        ],
        "console_scripts": [
            "spacy-ita = spacy_ita.cli:main",
        ],
    },
)
