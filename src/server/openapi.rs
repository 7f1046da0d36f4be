//! The OpenAPI 3.1 description served at `/openapi.json`. Written by hand, next to the handlers;
//! `tests/serve.rs` checks every path in it against the running server and every response the
//! tests receive against its schema, so it cannot drift from what the server does.

use serde_json::{json, Value};

fn err_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let what = match *c {
            "400" => "The request is invalid (OpenAI's status for it): the body is not JSON or not of the expected shape, a field's value is refused (the message names the field and the limit), or the path cannot be read (not UTF-8 once percent-decoded).",
            "408" => "The body did not arrive within the server's body-read timeout.",
            "401" => "The API key is missing or wrong (only when the server has one).",
            "404" => "No such passage, document, theme job or model (`model_not_found`).",
            "409" => "The index holds no passage yet, a document key is taken, or the index was built with another model than the server runs.",
            "413" => "The body is over the size limit.",
            "415" => "The body is not declared as JSON.",
            "429" => "The model's queue is full (retry after `Retry-After` seconds), or two theme jobs are running.",
            "503" => "The server is shutting down, has as many connections open as it takes, or its PostgreSQL store cannot be reached.",
            "504" => "The request took longer than the server's timeout.",
            _ => "Error.",
        };
        m.insert(
            c.to_string(),
            json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(m)
}

fn with_ok(schema: &str, what: &str, errors: &[&str]) -> Value {
    let mut r = err_responses(errors);
    r["200"] = json!({
        "description": what,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    });
    r
}

/// As [`with_ok`] for an operation that answers 202 Accepted with a `Location`.
fn with_accepted(schema: &str, what: &str, errors: &[&str]) -> Value {
    let mut r = err_responses(errors);
    r["202"] = json!({
        "description": what,
        "headers": {"Location": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    });
    r
}

fn body(schema: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "semclust",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Embeddings (OpenAI-compatible), search, related passages, indexing and themes over one semclust index."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/embeddings": {"post": {
                "summary": "Embed texts (OpenAI-compatible).",
                "requestBody": body("EmbeddingsRequest"),
                "responses": with_ok("EmbeddingsResponse", "One L2-normalised vector per input, in input order.", &["400", "401", "404", "408", "413", "415", "429", "503", "504"]),
            }},
            "/v1/models": {"get": {
                "summary": "The model this server runs (OpenAI-compatible).",
                "responses": with_ok("ModelList", "The served model.", &["401"]),
            }},
            "/v1/search": {"post": {
                "summary": "Passages that answer a query, or related to a text or a stored passage.",
                "requestBody": body("SearchRequest"),
                "responses": with_ok("HitList", "Best first.", &["400", "401", "404", "408", "409", "413", "415", "429", "503", "504"]),
            }},
            "/v1/passages/{id}": {"get": {
                "summary": "One stored passage. The id holds slashes; send them as they are or percent-encoded.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "example": "lemonde-ia-2025/3/12"}],
                "responses": with_ok("Passage", "The passage.", &["400", "401", "404", "409", "503", "504"]),
            }},
            "/v1/passages/{id}/related": {"get": {
                "summary": "Passages nearest to a stored passage (itself excluded).",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "k", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 10}},
                    {"name": "other_articles", "in": "query", "schema": {"type": "boolean", "default": false}},
                    {"name": "other_languages", "in": "query", "schema": {"type": "boolean", "default": false}, "description": "Only passages in other languages than this one's (detected on its text, else its article's `lang`)."},
                    {"name": "neutral", "in": "query", "schema": {"type": "boolean", "default": true}, "description": "`false`: compare the model's own vectors instead of the language-neutral view (docs/cli.md, Mixed languages)."},
                    {"name": "with_titles", "in": "query", "schema": {"type": "boolean", "default": false}, "description": "With `other_articles`: rank by the passage's vector as stored, its article's title and headings included, instead of the passage less half its article's mean vector."},
                    {"name": "where", "in": "query", "schema": {"type": "string"}, "description": "Only passages whose document metadata has these values: KEY=VALUE conditions, comma-separated (all must hold; a list field must hold the value)."},
                    {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)."},
                    {"name": "until", "in": "query", "schema": {"type": "string"}, "description": "Only documents dated on or before (a month or a year includes all of it)."},
                    {"name": "method", "in": "query", "schema": {"enum": ["auto", "exact", "ann"]}}
                ],
                "responses": with_ok("HitList", "Best first.", &["400", "401", "404", "409", "503", "504"]),
            }},
            "/v1/documents": {"get": {
                "summary": "Every stored document (key, path, format, passages, bytes, languages, dates) and the index's figures, as `semclust docs list` and `docs stats` print them.",
                "responses": with_ok("DocumentList", "By key.", &["401", "409", "503", "504"]),
            }},
            "/v1/documents/{key}": {"get": {
                "summary": "One stored document and its passages in reading order. The key holds slashes; send them as they are or percent-encoded.",
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}, "example": "nodejs/api/addons.md"}],
                "responses": with_ok("DocumentPassages", "The document.", &["401", "404", "409", "503", "504"]),
            }},
            "/v1/index": {"post": {
                "summary": "Add, replace or delete documents; split and embedded as `semclust index` does, incrementally.",
                "requestBody": body("IndexRequest"),
                "responses": with_ok("IndexReport", "What changed.", &["400", "401", "408", "413", "415", "503"]),
            }},
            "/v1/themes": {"get": {
                "summary": "Themes across articles (k-means), computed on demand and cached until the index changes.",
                "parameters": [
                    {"name": "k", "in": "query", "schema": {"type": "string", "default": "auto"}, "description": "A number of themes, MIN..MAX (each tried, one chosen), or auto (2 to about √n, at most 30). The choice: the best silhouette when it reaches 0.25, else the elbow of the inertia curve."},
                    {"name": "seed", "in": "query", "schema": {"type": "integer", "default": 42}},
                    {"name": "restarts", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}},
                    {"name": "neutral", "in": "query", "schema": {"type": "boolean", "default": true}, "description": "`false`: cluster the model's own vectors instead of the language-neutral view."},
                    {"name": "label_lang", "in": "query", "schema": {"type": "string"}, "description": "In a collection of several languages, the labels' language (ISO 639-1); default the most frequent."},
                    {"name": "with_titles", "in": "query", "schema": {"type": "boolean", "default": false}, "description": "`true`: cluster the vectors as stored, each passage with its article's title and headings (themes then follow the articles); default: each passage less what sets its article apart from the articles most like it (its article's mean less the mean of its 10 nearest articles' means)."},
                    {"name": "where", "in": "query", "schema": {"type": "string"}, "description": "Only passages whose document metadata has these values: KEY=VALUE conditions, comma-separated (all must hold; a list field must hold the value)."},
                    {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)."},
                    {"name": "until", "in": "query", "schema": {"type": "string"}, "description": "Only documents dated on or before (a month or a year includes all of it)."},
                    {"name": "period", "in": "query", "schema": {"type": "string", "enum": ["auto", "month", "quarter", "year"]}, "description": "Periods of over_time, the themes' passages counted per period of their documents' dates (auto: months up to 3 years, quarters up to 10, years beyond)."}
                ],
                "responses": with_ok("Themes", "The themes, as `semclust themes --json` prints them, with the index generation.", &["400", "401", "409", "503", "504"]),
            },
            "post": {
                "summary": "Start the themes of these parameters as a job (the query parameters of GET, as one JSON object; `k` may be a number). Answers 202 at once with the job's location, which GET polls for progress and the result; the same parameters on the same index find the same job, and its result is what GET /v1/themes then returns from its cache.",
                "requestBody": body("ThemesJobRequest"),
                "responses": with_accepted("ThemesJobStarted", "Started, or already there; `Location` is the job's address.", &["400", "401", "409", "413", "415", "429", "503", "504"]),
            }},
            "/v1/themes/jobs/{id}": {"get": {
                "summary": "A themes job: each k tried so far (with its silhouette and inertia), and once done the themes, as GET /v1/themes returns them.",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_ok("ThemesJob", "The job.", &["400", "401", "404", "504"]),
            }},
            "/health": {"get": {
                "summary": "Liveness and what the server runs (no key needed).",
                "security": [],
                "responses": with_ok("Health", "Up.", &[]),
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics (text format 0.0.4; no key needed).",
                "security": [],
                "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }},
            "/openapi.json": {"get": {
                "summary": "This document.",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
    })
}

fn schemas() -> Value {
    let section = json!({"type": ["string", "null"], "description": "The headings above the passage under its article's title, `Section › Subsection`."});
    let meta = json!({"type": "object", "description": "The article's metadata: front matter keys, a JSONL record's other fields, a clipped page's url."});
    let nullable_num = json!({"type": ["number", "null"]});
    let mut s = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["message", "type", "code"],
                "properties": {
                    "message": {"type": "string", "description": "For people; its wording may change."},
                    "type": {"type": "string", "description": "The class of error (OpenAI's types)."},
                    "param": {"type": "null", "description": "OpenAI's field, always null here: the message names the field."},
                    "code": {"type": "string", "description": "Stable, for programs: invalid_json, invalid_body, invalid_path, invalid_query, invalid_value, k_out_of_range, input_too_long, request_too_long, too_many_inputs, body_too_large, body_timeout, body_unreadable, unsupported_media_type, missing_api_key, invalid_api_key, not_found, passage_not_found, unknown_route, method_not_allowed, index_empty, index_model_mismatch, queue_full, timeout, cancelled, shutting_down, too_many_connections, store_unavailable, document_key_taken, internal_error, model_not_found."}
                }
            }}
        },
        "EmbeddingsRequest": {
            "type": "object",
            "required": ["input"],
            "additionalProperties": false,
            "properties": {
                "input": {"oneOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 2048}
                ]},
                "model": {"type": "string", "description": "The served model's id, its Hugging Face repo or a `--model-alias`, optionally ending in `:query` or `:passage` to pick the prefix (as `input_type` does); optional. Another name is 404 `model_not_found`."},
                "encoding_format": {"enum": ["float", "base64"], "default": "float", "description": "base64: the little-endian f32 bytes of each vector."},
                "input_type": {"enum": ["query", "passage", "document"], "default": "passage", "description": "semclust's extension: which of the model's prefixes the inputs get."},
                "dimensions": {"type": "integer", "description": "Must equal the model's dimension when given."},
                "user": {"type": "string"}
            }
        },
        "EmbeddingsResponse": {
            "type": "object",
            "required": ["object", "data", "model", "usage"],
            "properties": {
                "object": {"const": "list"},
                "model": {"type": "string"},
                "data": {"type": "array", "items": {
                    "type": "object",
                    "required": ["object", "index", "embedding"],
                    "properties": {
                        "object": {"const": "embedding"},
                        "index": {"type": "integer", "minimum": 0},
                        "embedding": {"oneOf": [
                            {"type": "array", "items": {"type": "number"}},
                            {"type": "string", "contentEncoding": "base64"}
                        ]}
                    }
                }},
                "usage": {
                    "type": "object",
                    "required": ["prompt_tokens", "total_tokens"],
                    "properties": {
                        "prompt_tokens": {"type": "integer", "minimum": 0},
                        "total_tokens": {"type": "integer", "minimum": 0}
                    }
                }
            }
        },
        "ModelList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id", "object", "created", "owned_by"],
                    "properties": {"id": {"type": "string"}, "object": {"const": "model"}, "created": {"type": "integer"}, "owned_by": {"type": "string"}}
                }}
            }
        },
        "SearchRequest": {
            "type": "object",
            "additionalProperties": false,
            "description": "Exactly one of query, text and id.",
            "properties": {
                "query": {"type": "string", "description": "A question, in any language the model knows."},
                "text": {"type": "string", "description": "Find passages related to this text."},
                "id": {"type": "string", "description": "Find passages related to this stored passage."},
                "k": {"type": "integer", "minimum": 1, "default": 10},
                "mode": {"enum": ["dense", "lexical", "hybrid"], "description": "Default: hybrid with `query`, dense with `text` or `id` (lexical and hybrid need `query`)."},
                "other_articles": {"type": "boolean", "default": false, "description": "With `id`: only passages of other articles."},
                "other_languages": {"type": "boolean", "default": false, "description": "With `id`: only passages in other languages than that passage's."},
                "neutral": {"type": "boolean", "default": true, "description": "`false`: the dense part compares the model's own vectors instead of the language-neutral view."},
                "with_titles": {"type": "boolean", "default": false, "description": "With `id` and `other_articles`: rank by the passage's vector as stored, its article's title and headings included, instead of the passage less half its article's mean vector."},
                "where": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Only passages whose document metadata has these values (all of them; a list field must hold the value)."},
                "since": {"type": "string", "description": "Only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)."},
                "until": {"type": "string", "description": "Only documents dated on or before (a month or a year includes all of it)."},
                "method": {"enum": ["auto", "exact", "ann"], "default": "auto"},
                "boilerplate": {"type": "boolean", "default": false, "description": "Rank boilerplate (a text found in 5 documents or more) like any passage instead of after the others."}
            }
        },
        "Hit": {
            "type": "object",
            "required": ["rank", "id", "score", "dense_score", "lexical_score", "article", "document", "path", "span", "text", "section", "meta"],
            "properties": {
                "rank": {"type": "integer", "minimum": 1},
                "id": {"type": "string"},
                "score": {"type": "number"},
                "dense_score": nullable_num,
                "lexical_score": nullable_num,
                "article": {"type": "string", "description": "The article's title."},
                "document": {"type": "string"},
                "path": {"type": "string"},
                "span": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                "text": {"type": "string"},
                "section": section,
                "meta": meta,
                "appears_in": {"type": "integer", "minimum": 2, "description": "Documents holding this text or a near-identical one, when more than one; the other copies are folded into this hit."}
            }
        },
        "HitList": {
            "type": "object",
            "required": ["object", "model", "mode", "data"],
            "properties": {
                "object": {"const": "list"},
                "model": {"type": "string"},
                "mode": {"enum": ["dense", "lexical", "hybrid"]},
                "source": {"$ref": "#/components/schemas/Passage"},
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}
            }
        },
        "Document": {
            "type": "object",
            "required": ["key", "path", "format", "passages", "bytes", "languages", "dates"],
            "properties": {
                "key": {"type": "string"},
                "path": {"type": "string", "description": "The file it was read from, or api:NAME for a document sent to /v1/index."},
                "format": {"type": "string"},
                "passages": {"type": "integer"},
                "bytes": {"type": "integer", "description": "Bytes of passage text."},
                "languages": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Passages per language; (none) where none was detected."},
                "dates": {"type": ["array", "null"], "items": {"type": "string"}, "description": "The earliest and latest date of its articles, when they give one."}
            }
        },
        "DocumentList": {
            "type": "object",
            "required": ["object", "data", "stats"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
                "stats": {"type": "object", "description": "documents, passages, bytes, formats {format: documents}, languages {language: passages}."}
            }
        },
        "DocumentPassages": {
            "type": "object",
            "required": ["document", "passages"],
            "properties": {
                "document": {"$ref": "#/components/schemas/Document"},
                "passages": {"type": "array", "items": {"$ref": "#/components/schemas/Passage"}}
            }
        },
        "Passage": {
            "type": "object",
            "required": ["id", "article", "article_key", "paragraph", "document", "path", "span", "hash", "text", "section", "meta"],
            "properties": {
                "id": {"type": "string"},
                "article": {"type": "string"},
                "article_key": {"type": "string"},
                "paragraph": {"type": "integer", "minimum": 1},
                "document": {"type": "string"},
                "path": {"type": "string"},
                "span": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                "hash": {"type": "string"},
                "text": {"type": "string"},
                "section": section,
                "meta": meta
            }
        },
        "IndexRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "documents": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "text"],
                    "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string", "description": "Passage ids are NAME/ARTICLE/PARAGRAPH."},
                        "text": {"type": "string"},
                        "format": {"enum": crate::corpus::Format::api_names(), "default": "markdown"}
                    }
                }},
                "delete": {"type": "array", "items": {"type": "string"}}
            }
        },
        "IndexReport": {
            "type": "object",
            "required": ["documents", "added", "updated", "removed", "kept", "embedded", "documents_removed", "passages", "generation", "seconds"],
            "properties": {
                "documents": {"type": "integer"},
                "added": {"type": "integer"},
                "updated": {"type": "integer"},
                "removed": {"type": "integer"},
                "kept": {"type": "integer"},
                "embedded": {"type": "integer"},
                "documents_removed": {"type": "integer"},
                "context_added": {"type": "integer", "description": "Of the updated passages, those embedded again because an earlier semclust had embedded their text without its title and headings."},
                "passages": {"type": "integer"},
                "generation": {"type": "integer"},
                "seconds": {"type": "number"}
            }
        },
        "Health": {
            "type": "object",
            "required": ["status", "version", "model", "precision", "device", "dimension", "index", "queue_depth", "uptime_seconds"],
            "properties": {
                "status": {"const": "ok"},
                "version": {"type": "string"},
                "model": {"type": "string"},
                "revision": {"type": "string"},
                "precision": {"enum": ["q4", "f32", "f16"]},
                "device": {"type": "string"},
                "dimension": {"type": "integer"},
                "index": {"type": "object", "required": ["dir", "backend", "passages"], "properties": {"dir": {"type": "string", "description": "the index folder, or the PostgreSQL URL without its password"}, "backend": {"enum": ["sqlite", "postgres"]}, "passages": {"type": ["integer", "null"]}}},
                "queue_depth": {"type": "integer"},
                "uptime_seconds": {"type": "number"}
            }
        }
    });
    s["Themes"] = themes_schema();
    s["ThemesJobRequest"] = json!({
        "type": "object",
        "properties": {
            "k": {"type": ["string", "integer"], "description": "A number of themes, MIN..MAX, or auto (the default)."},
            "seed": {"type": "integer"},
            "restarts": {"type": "integer", "minimum": 1, "maximum": 100},
            "neutral": {"type": "boolean"},
            "label_lang": {"type": "string"},
            "with_titles": {"type": "boolean"},
            "where": {"type": "string", "description": "KEY=VALUE conditions, comma-separated."},
            "since": {"type": "string"},
            "until": {"type": "string"},
            "period": {"type": "string", "enum": ["auto", "month", "quarter", "year"]}
        }
    });
    s["ThemesJobStarted"] = json!({
        "type": "object",
        "required": ["id", "status", "location"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["running", "done"]},
            "location": {"type": "string", "description": "Where to GET the job."}
        }
    });
    s["ThemesJob"] = json!({
        "type": "object",
        "required": ["id", "status", "progress", "seconds"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["running", "done", "failed"]},
            "progress": {"type": "object", "required": ["tried"], "properties": {"tried": {
                "type": "array", "description": "Each k tried so far (a number or range of k), in order.",
                "items": {"type": "object", "required": ["k", "silhouette", "inertia"], "properties": {"k": {"type": "integer"}, "silhouette": {"type": "number"}, "inertia": {"type": "number"}}}
            }}},
            "seconds": {"type": "number", "description": "How long the run has taken so far, or took."},
            "result": {"$ref": "#/components/schemas/Themes", "description": "Once done."},
            "error": {"$ref": "#/components/schemas/Error", "description": "Once failed."}
        }
    });
    s
}

/// `GET /v1/themes`: what `semclust themes --json` prints, with the index generation.
fn themes_schema() -> Value {
    json!({
        "type": "object",
        "required": ["facts", "themes", "table", "passages", "generation"],
        "properties": {
            "facts": {
                "type": "object",
                "required": ["model", "revision", "precision", "dimension", "passages", "articles", "k", "k_choice", "seed", "restarts", "silhouette", "inertia", "labels", "stop_word_languages", "map_layout", "map_explained_variance", "boilerplate_left_out", "vectors", "article_identity"],
                "properties": {
                    "model": {"type": "string"}, "revision": {"type": "string"},
                    "precision": {"type": "string"}, "dimension": {"type": "integer"},
                    "passages": {"type": "integer"}, "articles": {"type": "integer"},
                    "k": {"type": "integer"},
                    "k_choice": {"type": "string", "description": "`fixed`, or how k was chosen among those tried (by silhouette, or at the elbow of inertia)."},
                    "labels": {"type": "string", "description": "How labels were picked from the key terms (ranked by the model, or by weight)."},
                    "seed": {"type": "integer"}, "restarts": {"type": "integer"},
                    "silhouette": {"type": "number"}, "inertia": {"type": "number"},
                    "stop_word_languages": {"type": "array", "items": {"type": "string"}, "description": "ISO 639-1 codes of the languages whose stop words are left out of key terms: those the passages are written in, and English."},
                    "map_layout": {"type": "string", "description": "How the map was laid out: t-SNE from a PCA start (on a sample above 5,000 passages), or PCA."},
                    "boilerplate_left_out": {"type": "integer", "description": "Passages left out of the themes as boilerplate: their text (or a near-identical one) is in 5 documents or more."},
                    "vectors": {"enum": ["language-neutral", "model"], "description": "The vectors clustered: the language-neutral view (the default) or the model's own."},
                    "label_language": {"type": "string", "description": "In a collection of several languages, the language the labels are in; absent in a collection of one."},
                    "article_identity": {"enum": ["reduced", "kept"], "description": "What the vectors keep of their article: `reduced` (each passage less what sets its article apart from the articles most like it, the default) or `kept` (`with_titles`: as stored, with the title and headings the passage was embedded under)."},
                    "map_explained_variance": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
                }
            },
            "k_scores": {"type": "array", "description": "With k=auto: the silhouette and inertia of every k tried.", "items": {
                "type": "object", "required": ["k", "silhouette", "inertia"],
                "properties": {"k": {"type": "integer"}, "silhouette": {"type": "number"}, "inertia": {"type": "number"}}
            }},
            "themes": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "label", "size", "terms", "representatives", "spread", "articles", "languages"],
                "properties": {
                    "id": {"type": "integer"},
                    "label": {"type": "string", "description": "The first key terms."},
                    "size": {"type": "integer", "description": "Passages in the theme."},
                    "terms": {"type": "array", "description": "Key terms by class-based TF-IDF, best first.", "items": {
                        "type": "object", "required": ["term", "weight"],
                        "properties": {"term": {"type": "string"}, "weight": {"type": "number"}, "also": {"type": "array", "items": {"type": "string"}, "description": "In a collection of several languages, the theme's key terms that translate this one; they count as one term (the weight is theirs summed). Absent when none."}}
                    }},
                    "representatives": {"type": "array", "description": "The passages nearest the centroid.", "items": {
                        "type": "object", "required": ["id", "article", "document", "similarity", "text"],
                        "properties": {
                            "id": {"type": "string"}, "article": {"type": "string"}, "document": {"type": "string"},
                            "similarity": {"type": "number"}, "text": {"type": "string"}
                        }
                    }},
                    "spread": {"type": "integer", "description": "Articles the theme spans."},
                    "articles": {"type": "array", "items": {
                        "type": "object", "required": ["article", "document", "passages"],
                        "properties": {"article": {"type": "string"}, "document": {"type": "string"}, "passages": {"type": "integer"}}
                    }},
                    "languages": {"type": "array", "description": "Languages of the theme's passages, largest share first (from up to 500 passages spread over the theme; `und` where a passage's language cannot be told).", "items": {
                        "type": "object", "required": ["language", "share"],
                        "properties": {"language": {"type": "string"}, "share": {"type": "number"}}
                    }}
                }
            }},
            "table": {"type": "array", "description": "Article × theme paragraph counts.", "items": {
                "type": "object", "required": ["article", "document", "counts", "total"],
                "properties": {
                    "article": {"type": "string"}, "document": {"type": "string"},
                    "counts": {"type": "array", "items": {"type": "integer"}, "description": "Passages per theme, by theme id."},
                    "total": {"type": "integer"}
                }
            }},
            "passages": {"type": "array", "items": {
                "type": "object", "required": ["id", "article", "document", "theme", "x", "y", "text"],
                "properties": {
                    "id": {"type": "string"}, "article": {"type": "string"}, "document": {"type": "string"},
                    "theme": {"type": "integer"},
                    "x": {"type": "number", "description": "Position on the map (PCA)."}, "y": {"type": "number"},
                    "text": {"type": "string"}
                }
            }},
            "generation": {"type": "integer", "description": "The index generation the themes were computed on."}
        }
    })
}
