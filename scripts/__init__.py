"""The project workflow's own steps (project.yml), for what `python -m spacy_ita …` does not do:
build the demo images, run a command over every split or image folder a dataset has (or write
the empty output a dataset without images needs), train with the dataset's schedule, write a
package's meta.json. Run from the repository root as `python -m scripts.<step>`; each step calls
the package (its commands or its library), and the demo notice is `demo_notice`'s."""
