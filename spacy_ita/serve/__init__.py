"""The pipeline as an HTTP service: `python -m spacy_ita serve MODEL` (the `serve` extra).

`app.create_app` (FastAPI: the API and the page), `batching.DynamicBatcher`
(requests in flight grouped into one `nlp.pipe` call), `limits.ServeLimits`
(what a request may send), `server.run_server` (uvicorn, one or N processes on
one port). Nothing here is imported by `import spacy_ita`: FastAPI and uvicorn
are needed only to serve.
"""
