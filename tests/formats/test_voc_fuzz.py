"""Fuzzing the VOC reader: generated malformed XML documents (random elements, text and numbers,
missing tags, bad nesting, entities, encodings, raw bytes, empty files) and split files.

Whatever the documents, a load either succeeds, recording only problems of the documented
kinds whose message names the file, or raises ``ValueError`` naming the file. Every box that
loads is placeable (finite numbers, a class name).
"""

from __future__ import annotations

import math
import re
import tempfile
import warnings
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbdiag.io.formats._parsed import PROBLEM_KINDS
from nbdiag.io.formats.voc import from_voc, read_voc

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

TAGS = [
    "annotation", "object", "name", "bndbox", "xmin", "ymin", "xmax", "ymax", "size", "width",
    "height", "depth", "difficult", "truncated", "occluded", "pose", "score", "nbdiag_id",
    "filename", "part", "folder", "segmented",
]  # fmt: skip
WORDS = [
    "", " ", "0", "1", "-1", "2", "12.5", " 7 ", "1e308", "1e-400", "1e999999999", "nan", "NaN",
    "inf", "-inf", "Infinity", "sNaN", "1_0", "0x10", "+3", ".5", "5.", "1,5", "true", "yes",
    "cat", "dog", "person", "abc", "\u221e", "\uff11\uff12", "9" * 400, "<", "&", "&amp;",
    "&lt;b&gt;", "&#65;", "&#0;", "&#x110000;", "&undefined;", "]]>", "\x01",
]  # fmt: skip
#: build the dataset for one example in four (the rest: the reader alone)
FULL = st.integers(0, 3).map(lambda k: k == 0)
text_values = st.one_of(
    st.sampled_from(WORDS),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """Text an XML document can hold (escaped, characters XML forbids removed)."""
    return escape(_NOT_XML.sub("", text))


#: mostly numbers, so that many documents get as far as their boxes
numbers = st.one_of(
    st.integers(-5, 200).map(str),
    st.integers(1, 100).map(str),
    st.floats(-10, 300, allow_nan=False).map(repr),
    text_values,
)
names = st.one_of(st.sampled_from(["cat", "dog", "person", " cat "]), text_values)
DECLARATIONS = {  # declaration -> the encoding the document is written in
    "": "utf-8",
    '<?xml version="1.0"?>': "utf-8",
    '<?xml version="1.0" encoding="utf-8"?>': "utf-8",
    '<?xml version="1.0" encoding="latin-1"?>': "latin-1",
    '<?xml version="1.0" encoding="utf-16"?>': "utf-16",
    '<?xml version="1.0" encoding="bogus-enc"?>': "utf-8",
    "\ufeff": "utf-8",
}


def _element(draw, depth: int, hostile: bool) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(st.sampled_from(["", ' type="int"', ' type="float"', " type='x'", " a=b"]))
    if depth <= 0 or draw(st.booleans()):
        body = _value(draw, text_values, hostile)
    else:
        body = "".join(_element(draw, depth - 1, hostile) for _ in range(draw(st.integers(0, 4))))
    if hostile and draw(st.integers(0, 4)) == 0:  # bad nesting / unclosed
        return f"<{tag}{attrs}>{body}"
    return f"<{tag}{attrs}>{body}</{tag}>"


def _value(draw, values, hostile: bool) -> str:
    """A drawn value: raw (maybe breaking the document) in a hostile one, else escaped."""
    text = draw(values)
    return text if hostile and draw(st.booleans()) else _clean(text)


@st.composite
def structured_docs(draw) -> bytes:
    """Annotation-shaped documents: random objects with random fields and values; one in three
    is hostile (raw text, unclosed elements, a mismatched encoding)."""
    hostile = draw(st.integers(0, 2)) == 0
    objects = []
    for _ in range(draw(st.integers(0, 4))):
        fields = []
        if draw(st.integers(0, 7)):
            fields.append(f"<name>{_value(draw, names, hostile)}</name>")
        for tag in ("pose", "difficult", "truncated", "occluded", "score", "nbdiag_id"):
            if draw(st.integers(0, 3)) == 0:
                fields.append(f"<{tag}>{_value(draw, numbers, hostile)}</{tag}>")
        if draw(st.integers(0, 7)):
            corners = "".join(
                f"<{k}>{_value(draw, numbers, hostile)}</{k}>"
                for k in ("xmin", "ymin", "xmax", "ymax")
                if draw(st.integers(0, 12))
            )
            fields.append(f"<bndbox>{corners}</bndbox>")
        if not draw(st.integers(0, 3)):
            fields.append(_element(draw, 2, hostile))
        objects.append("<object>" + "".join(draw(st.permutations(fields))) + "</object>")
    head = []
    if draw(st.booleans()):
        head.append(f"<filename>{_value(draw, text_values, hostile)}</filename>")
    if draw(st.booleans()):
        size = "".join(
            f"<{k}>{_value(draw, numbers, hostile)}</{k}>"
            for k in ("width", "height", "depth")
            if draw(st.booleans())
        )
        head.append(f"<size>{size}</size>")
    if draw(st.booleans()):
        head.append(f'<nbdiag_id type="int">{_value(draw, numbers, hostile)}</nbdiag_id>')
    root = draw(st.sampled_from(["annotation"] * 8 + ["Annotation", "object", "voc"]))
    decl = draw(st.sampled_from(sorted(DECLARATIONS)))
    enc = DECLARATIONS[decl]
    if hostile:
        enc = draw(st.sampled_from([enc, "utf-8", "latin-1", "utf-16"]))
    return _encode(f"{decl}<{root}>{''.join(head + objects)}</{root}>", enc)


VALID = (
    "<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height></size>"
    "<object><name>cat</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2.5</ymin>"
    "<xmax>10</xmax><ymax>20</ymax></bndbox></object>"
    "<object><name>dog</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>9</xmax><ymax>9</ymax>"
    "</bndbox></object></annotation>"
)
SNIPPETS = [
    "<", ">", "</object>", "<object>", "</bndbox>", "<bndbox>", "&amp;", "&undefined;", "&#0;",
    "&#x110000;", "&#65;", "<![CDATA[12]]>", "<?pi x?>", "<!-- c -->", "\x00", "\ufeff", '"',
    "<!DOCTYPE annotation [<!ENTITY e 'x'>]>", "&e;", "<xmin>1</xmin>", "</annotation>",
]  # fmt: skip


@st.composite
def mutated_docs(draw) -> str:
    """A valid VOC XML with spans deleted, duplicated or replaced by hostile snippets."""
    doc = VALID
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(doc)))
        j = draw(st.integers(i, min(len(doc), i + 30)))
        op = draw(st.integers(0, 2))
        if op == 0:
            doc = doc[:i] + doc[j:]
        elif op == 1:
            doc = doc[:i] + doc[i:j] + doc[i:]
        else:
            doc = doc[:i] + draw(st.sampled_from(SNIPPETS)) + doc[j:]
    return doc


@st.composite
def entity_docs(draw) -> str:
    """Documents that define and use internal entities (names, numbers, nested expansion)."""
    value = draw(st.sampled_from(["cat", "12", "1e3", "", "&#60;", "x&amp;y", "&e0;"]))
    depth = draw(st.integers(1, 5))
    defs = ["<!ENTITY e0 'ab'>"]
    defs += [f"<!ENTITY e{k} '{f'&e{k - 1};' * 3}'>" for k in range(1, depth)]
    defs.append(f"<!ENTITY v '{value}'>")
    use = draw(st.sampled_from(["&v;", f"&e{depth - 1};", "&nope;", "&v;&v;"]))
    where = draw(st.sampled_from(["name", "xmin", "pose", "filename", "difficult"]))
    body = VALID.replace(f"<{where}>", f"<{where}>{use}", 1)
    return f"<!DOCTYPE annotation [{''.join(defs)}]>{body}"


def _check(docs: list[bytes], listed_ids: list[str], full: bool = True) -> None:
    """Write ``docs`` as Annotations/a<k>.xml, list ``listed_ids`` in a split file, read them
    (and, when ``full``, build the dataset: pandas work that costs more than the parsing)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "voc"
        (root / "Annotations").mkdir(parents=True)
        (root / "ImageSets" / "Main").mkdir(parents=True)
        for k, doc in enumerate(docs):
            (root / "Annotations" / f"a{k}.xml").write_bytes(doc)
        lines = "".join(f"{i}\n" for i in listed_ids)
        (root / "ImageSets" / "Main" / "train.txt").write_text(lines, encoding="utf-8")
        try:
            parsed = read_voc(root, check_images=False)
        except ValueError as exc:
            assert str(root) in str(exc) or "Annotations/" in str(exc)
            return
        images = parsed.images()
        wanted = []
        for line in listed_ids:
            parts = line.split()
            if parts and not ("/" in parts[0] or "\\" in parts[0] or parts[0].startswith(".")):
                wanted.append(parts[0])
        assert len(images) == len(dict.fromkeys(wanted))
        for _image, kind, message in parsed.problems:
            assert kind in PROBLEM_KINDS
            assert message.startswith(("Annotations/", "ImageSets/Main/train.txt")), message
        boxes = parsed.boxes()
        for col in ("x", "y", "w", "h"):
            assert np.isfinite(boxes[col].to_numpy(float)).all()
        assert all(isinstance(label, str) and label for label in boxes["label"])
        assert all(math.isnan(s) or math.isfinite(s) for s in boxes["score"])
        if not full:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = from_voc(root, check_images=False)
        assert len(ds) == len(images)
        documented = set(PROBLEM_KINDS)
        for issues in ds.samples["issues"]:
            assert set(filter(None, issues.split(","))) <= documented


def _encode(doc: str, enc: str) -> bytes:
    try:
        return doc.encode(enc)
    except UnicodeEncodeError:
        return doc.encode("utf-8", errors="surrogatepass")


@settings(max_examples=400, **SETTINGS)
@given(docs=st.lists(structured_docs(), min_size=1, max_size=3), missing=st.booleans(), full=FULL)
def test_structured_documents(docs: list[bytes], missing: bool, full: bool) -> None:
    ids = [f"a{k}" for k in range(len(docs))] + (["gone"] if missing else [])
    _check(docs, ids, full)


@settings(max_examples=400, **SETTINGS)
@given(docs=st.lists(mutated_docs(), min_size=1, max_size=3), full=FULL)
def test_mutated_documents(docs: list[str], full: bool) -> None:
    _check([_encode(d, "utf-8") for d in docs], [f"a{k}" for k in range(len(docs))], full)


@settings(max_examples=120, **SETTINGS)
@given(doc=entity_docs(), full=FULL)
def test_entity_documents(doc: str, full: bool) -> None:
    _check([doc.encode("utf-8")], ["a0"], full)


@settings(max_examples=150, **SETTINGS)
@given(
    raw=st.one_of(
        st.binary(max_size=300), st.text(max_size=300).map(lambda t: _encode(t, "utf-8"))
    ),
    lines=st.lists(
        st.one_of(
            st.just("a0"),
            st.just("a0 -1"),
            st.just(""),
            st.just("   "),
            st.just("../a0"),
            st.just(".hidden"),
            st.text(st.characters(exclude_categories=("Cs",)), max_size=10),
        ),
        max_size=5,
    ),
)
def test_raw_bytes_and_split_lines(raw: bytes, lines: list[str]) -> None:
    """Raw bytes (empty included) as the XML, odd lines in the split file."""
    clean = [ln.replace("\r", " ").replace("\x0b", " ").replace("\x0c", " ") for ln in lines]
    clean = [ln for ln in clean if "\n" not in ln and not any(c in ln for c in "\x1c\x1d\x1e\x85\u2028\u2029")]  # fmt: skip
    _check([raw], ["a0", *clean], full=False)
