"""Names and defaults the commands show in `--help`, owned here so that a command's help
imports nothing heavy (spaCy imports thinc, and thinc imports torch). The modules that
use them (aligners/ocr.py, aligners/detector.py, evaluate.py) import them from here."""

# The OCR engines `--ocr` names, by their registered backend (aligners/ocr.py).
OCR_ENGINES = {"rapidocr": "spacy_ita.RapidOCR.v1", "easyocr": "spacy_ita.EasyOCR.v1"}
DEFAULT_OCR_ENGINE = "rapidocr"
DEFAULT_DETECTOR = "yolov8s-world"  # the open-vocabulary YOLO shipped offline (resources.py)
DISPLACY_LIMIT = 25  # docs on the entity page, as `spacy evaluate --displacy-limit`
