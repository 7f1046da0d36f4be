#!/usr/bin/env python3
"""Issue 30, "themes across articles": semclust's own themes on three real collections of one
language, with each passage less half its article's mean vector (the default) and with the
vectors as stored (`--with-titles`). Prints, averaged over seeds 1-3, the themes' NMI against
the articles and the topics, and the number of themes that hold >= 3 passages of each of >= 2
articles. The same sets and indexes as benches/context_reference.py, whose scikit-learn runs on
the passages' text embedded alone are the reference the issue names:

    REF_PY=/path/to/venv/bin/python python3 benches/theme_articles.py [sample debref handbook]
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_python import require  # noqa: E402

require("numpy", "sklearn")
from sklearn.metrics import normalized_mutual_info_score as nmi  # noqa: E402
from context_reference import BIN, SETS, crossing, set_index  # noqa: E402


def main():
    for name in sys.argv[1:] or list(SETS):
        index, topics, k = set_index(name)
        print(f"{name}, k = {k}")
        for tag, flags in (("reduced (default)", []), ("--with-titles", ["--with-titles"])):
            runs = []
            for seed in (1, 2, 3):
                out = subprocess.run(
                    [BIN, "themes", "--index", index, "--k", str(k), "--json", "-q",
                     "--seed", str(seed), *flags], check=True, capture_output=True, text=True)
                t = json.loads(out.stdout)
                ps = t["passages"]
                theme = [p["theme"] for p in ps]
                article = [f'{p["document"]}#{p["article"]}' for p in ps]
                topic = [topics.get(p["document"]) for p in ps]
                runs.append((nmi(article, theme),
                             nmi(topic, theme) if topics else float("nan"),
                             crossing(theme, article)))
            a, t, c = (sum(r[i] for r in runs) / len(runs) for i in range(3))
            print(f"  {tag:20s} article {a:.3f}  topic {t:.3f}  crossing themes {c:.1f}"
                  f"  ({t_facts(out.stdout)})")


def t_facts(stdout):
    f = json.loads(stdout)["facts"]
    return f'vectors {f["vectors"]}, article_identity {f["article_identity"]}'


if __name__ == "__main__":
    main()
