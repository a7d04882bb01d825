"""The search index's SQL: PostgreSQL functions and triggers, the SQLite FTS5 table.

Triggers on mail_message keep the index in step with every write, bulk ones included
(the sync engines use bulk_create and queryset.update heavily), so no Python hook is
needed in ingest. `install(connection)` is idempotent; the migration calls it and
`reindex_all` calls it again, so improving the index format means editing this file and
running `manage.py search_reindex`.

PostgreSQL (per message a row in search_document, GIN-indexed):
  subject  weight A, config 'english' (stemmed: "meetings" finds "meeting")
  people   weight B, config 'simple' (names and addresses are not English words; an
           address is indexed whole and split at @ . _ - +)
  body     weight C, config 'english' (search_text, which the parser builds from the
           text and HTML-as-text, plus attachment names)
  CJK runs (Japanese, Chinese, Korean have no spaces) are also indexed as overlapping
  bigrams in 'simple', so a substring like 予定 in 会議の予定 is found as a phrase of
  bigrams (the approach of Lucene's CJKAnalyzer).
  word pairs: every two lexemes at adjacent positions of that vector, as one lexeme
           "a b" without positions (shingles), so that a phrase is looked up by its
           pairs on the GIN index: "design flight" reads the vectors of the messages
           holding that pair rather than of all that hold both words (27,000 of
           100,000 in bench/search.py, for 292 matches). About doubles the vector.

SQLite: an FTS5 table with the tokenizer 'porter unicode61 remove_diacritics 0': words
in lower case and stemmed in English ("meeting" finds "meetings"), accents kept ("Größe"
is not "Große"), like PostgreSQL's 'english' words; `word*` is a prefix
("Rechtsschutz*" finds the compound). CJK characters are spaced apart by the
search_cjk_spaced() SQL function (index_text.py, registered on every connection by
apps.py), so a CJK query is a phrase of characters and finds any substring, as
PostgreSQL's bigrams do. A fourth column, grams, holds the people's three-character
pieces (search_grams(), index_text.py): from:, to: and cc: values narrow the lookup
with them. A trigram tokenizer (substrings everywhere) was used before: its insert
cost 5-8x a word tokenizer's, about 15% of a first sync's CPU (bench/README.md).
"""

from __future__ import annotations

from typing import Any

# ruff: noqa: S608  (SQL built from our own constants, never from input)

CJK_CLASS = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
WATCHED = ("subject", "from_name", "from_address", "to", "cc", "search_text",
           "attachment_names")

# The PostgreSQL row also carries account and date, so the newest matches of a person's
# accounts are found from the GIN index and this table alone.
PG_WATCHED = (*WATCHED, "account_id", "date")
_PG_CHANGED = " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c in PG_WATCHED)
_PG_COLUMNS = ", ".join(f'"{c}"' for c in PG_WATCHED)
_SQLITE_COLUMNS = ", ".join(f'"{c}"' for c in WATCHED)

# from: is a substring of the sender's name or address (filters.py: icontains, which
# Django writes as UPPER(col::text) LIKE UPPER(%s)). Trigram indexes on exactly those
# expressions let PostgreSQL find "from:ana" among 100,000 rows without reading each
# row (measured: a sequential pass over mail_message, 15,000 pages, for every query).
# pg_trgm is a trusted extension: the database owner may create it.
# Created only when missing: CREATE INDEX (even IF NOT EXISTS) on mail_message fails
# inside a transaction that wrote to it (reindex_all after a sync, in one transaction).
PAIR_MAX_BYTES = 255
VECTOR_MAX_BYTES = 1_000_000  # PostgreSQL refuses a tsvector of 1 MB (1,048,576 bytes)
# No parser makes a lexeme with a space, and no pair starts with one.
PAIRS_OMITTED = " pairs omitted"

_PG_PAIRS = [
    # Every pair of lexemes at adjacent positions, "a b" (one lexeme, no positions):
    # `a <-> b` can match only a vector holding that pair. Pairs over PAIR_MAX_BYTES are
    # left out here and so in every lookup alike.
    # NULL when they would not fit in a tsvector: positions past 16383 all count as
    # 16383, so a very long text pairs the lexeme at 16382 with every one after it.
    f"""CREATE OR REPLACE FUNCTION search_pairs(v tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      WITH t AS (SELECT u.lexeme, p FROM unnest(v) AS u, unnest(u.positions) AS p),
      pairs AS (SELECT a.lexeme || ' ' || b.lexeme AS l FROM t AS a JOIN t AS b
                ON b.p = a.p + 1
                WHERE octet_length(a.lexeme) + octet_length(b.lexeme) < {PAIR_MAX_BYTES})
      SELECT CASE WHEN coalesce(sum(octet_length(l) + 8), 0) < {VECTOR_MAX_BYTES}
             THEN coalesce(array_to_tsvector(array_agg(l)), '') END
      FROM pairs
    $$""",
    f"""CREATE OR REPLACE FUNCTION search_with_pairs(v tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE WHEN pg_column_size(v) + pg_column_size(p) < {VECTOR_MAX_BYTES} THEN v || p
             ELSE v || array_to_tsvector(ARRAY['{PAIRS_OMITTED}']) END
      FROM search_pairs(v) AS p
    $$""",
    # The index lookup for a phrase: the AND of its pairs (of its words when it has no
    # adjacent pair: one word, or words apart by a stop word), exact on the GIN index
    # (no recheck, no vector read); the phrase itself is then checked on what it finds.
    # Lexemes are quoted for tsquery input: backslash and quote escaped.
    rf"""CREATE OR REPLACE FUNCTION search_phrase_lookup(cfg regconfig, phrase text)
    RETURNS tsquery LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE WHEN coalesce(length(p), 0) = 0 THEN plainto_tsquery(cfg, phrase) ELSE
        (SELECT string_agg('''' || replace(replace(l, '\', '\\'), '''', '''''') || '''',
                           ' & ') FROM unnest(tsvector_to_array(p)) AS l)::tsquery
        || '''{PAIRS_OMITTED}'''::tsquery END
      FROM search_pairs(to_tsvector(cfg, phrase)) AS p
    $$""",
]

_PG_SENDER_INDEXES = [
    f"DO $$ BEGIN IF to_regclass('search_message_{column}_trgm') IS NULL THEN "
    f"CREATE INDEX search_message_{column}_trgm ON mail_message "
    f"USING GIN ((upper({column}::text)) gin_trgm_ops); END IF; END $$"
    for column in ("from_name", "from_address")
]

_PG_VECTOR_INDEX = ("CREATE INDEX IF NOT EXISTS search_document_vector ON "
                    "search_search_document USING GIN (vector)")
POSTGRES_INSTALL = [
    _PG_VECTOR_INDEX,
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *_PG_SENDER_INDEXES,
    *_PG_PAIRS,
    # Overlapping bigrams of every CJK run, space separated.
    f"""CREATE OR REPLACE FUNCTION search_cjk_bigrams(body text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT coalesce(string_agg(
        CASE WHEN char_length(m.run[1]) = 1 THEN m.run[1] ELSE
          (SELECT string_agg(substr(m.run[1], i, 2), ' ' ORDER BY i)
           FROM generate_series(1, char_length(m.run[1]) - 1) AS i) END, ' '), '')
      FROM regexp_matches(coalesce(body, ''), '{CJK_CLASS}+', 'g') AS m(run)
    $$""",
    """CREATE OR REPLACE FUNCTION search_json_text(value jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT coalesce(string_agg(CASE jsonb_typeof(e) WHEN 'array' THEN
               concat_ws(' ', e->>0, e->>1) ELSE e #>> '{}' END, ' '), '')
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(value) = 'array' THEN value
                                ELSE '[]'::jsonb END) AS e
    $$""",
    """CREATE OR REPLACE FUNCTION search_message_vector(
        subject text, from_name text, from_address text, to_ jsonb, cc jsonb,
        body text, names jsonb) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT search_with_pairs(
             setweight(to_tsvector('english'::regconfig, coalesce(subject, ''))
                       || to_tsvector('simple'::regconfig, search_cjk_bigrams(subject)), 'A')
          || setweight(to_tsvector('simple'::regconfig, p)
                       || to_tsvector('simple'::regconfig, translate(p, '@._-+', '     ')), 'B')
          || setweight(to_tsvector('english'::regconfig, b)
                       || to_tsvector('simple'::regconfig, search_cjk_bigrams(b)), 'C'))
      FROM (SELECT concat_ws(' ', from_name, from_address, search_json_text(to_),
                             search_json_text(cc)) AS p,
                   concat_ws(' ', body, search_json_text(names)) AS b) AS x
    $$""",
    """CREATE OR REPLACE FUNCTION search_document_refresh() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        DELETE FROM search_search_document WHERE message_id = OLD.id;
        RETURN NULL;
      END IF;
      INSERT INTO search_search_document (message_id, account_id, date, vector)
      VALUES (NEW.id, NEW.account_id, NEW.date, search_message_vector(NEW.subject,
              NEW.from_name, NEW.from_address, NEW."to", NEW.cc, NEW.search_text,
              NEW.attachment_names))
      ON CONFLICT (message_id) DO UPDATE SET vector = EXCLUDED.vector,
        account_id = EXCLUDED.account_id, date = EXCLUDED.date;
      RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS search_document_insert ON mail_message",
    "CREATE TRIGGER search_document_insert AFTER INSERT ON mail_message "
    "FOR EACH ROW EXECUTE FUNCTION search_document_refresh()",
    "DROP TRIGGER IF EXISTS search_document_update ON mail_message",
    f"CREATE TRIGGER search_document_update AFTER UPDATE OF {_PG_COLUMNS} ON mail_message "
    f"FOR EACH ROW WHEN ({_PG_CHANGED}) EXECUTE FUNCTION search_document_refresh()",
    "DROP TRIGGER IF EXISTS search_document_delete ON mail_message",
    "CREATE TRIGGER search_document_delete AFTER DELETE ON mail_message "
    "FOR EACH ROW EXECUTE FUNCTION search_document_refresh()",
]
POSTGRES_UNINSTALL = [
    "DROP TRIGGER IF EXISTS search_document_insert ON mail_message",
    "DROP TRIGGER IF EXISTS search_document_update ON mail_message",
    "DROP TRIGGER IF EXISTS search_document_delete ON mail_message",
    "DROP FUNCTION IF EXISTS search_document_refresh()",
    "DROP FUNCTION IF EXISTS search_message_vector(text, text, text, jsonb, jsonb, text, jsonb)",
    "DROP FUNCTION IF EXISTS search_json_text(jsonb)",
    "DROP FUNCTION IF EXISTS search_phrase_lookup(regconfig, text)",
    "DROP FUNCTION IF EXISTS search_with_pairs(tsvector)",
    "DROP FUNCTION IF EXISTS search_pairs(tsvector)",
    "DROP FUNCTION IF EXISTS search_cjk_bigrams(text)",
    "DROP INDEX IF EXISTS search_document_vector",
    "DROP INDEX IF EXISTS search_message_from_name_trgm",
    "DROP INDEX IF EXISTS search_message_from_address_trgm",
]
POSTGRES_INDEX_ROWS = (
    "INSERT INTO search_search_document (message_id, account_id, date, vector) "
    "SELECT id, account_id, date, search_message_vector(subject, from_name, from_address, "
    "\"to\", cc, search_text, attachment_names) FROM mail_message WHERE {where} "
    "ON CONFLICT (message_id) DO UPDATE SET vector = EXCLUDED.vector, "
    "account_id = EXCLUDED.account_id, date = EXCLUDED.date"
)


def _sqlite_json(row: str, column: str) -> str:
    """Text of a JSON list column: [[name, address], ...] pairs or plain strings."""
    return (f"coalesce((SELECT group_concat(CASE e.type WHEN 'array' THEN "
            f"coalesce(e.value->>0, '') || ' ' || coalesce(e.value->>1, '') ELSE e.value END,"
            f" ' ') FROM json_each(CASE WHEN json_valid({row}.\"{column}\") THEN "
            f"{row}.\"{column}\" ELSE '[]' END) AS e), '')")


def _spaced(expression: str) -> str:
    return f"search_cjk_spaced({expression})"


def _grams(expression: str) -> str:
    return f"search_grams({expression})"


def sqlite_values(row: str) -> str:
    """subject, people, body, grams expressions over a mail_message row (`new` or a
    table), in FTS_COLUMNS order."""
    people = (f"coalesce({row}.from_name, '') || ' ' || coalesce({row}.from_address, '') "
              f"|| ' ' || {_sqlite_json(row, 'to')} || ' ' || {_sqlite_json(row, 'cc')}")
    body = (f"coalesce({row}.search_text, '') || ' ' || "
            f"{_sqlite_json(row, 'attachment_names')}")
    subject = f"coalesce({row}.subject, '')"
    return f"{_spaced(subject)}, {_spaced(people)}, {_spaced(body)}, {_grams(people)}"


_SQLITE_CHANGED = " OR ".join(f'old."{c}" IS NOT new."{c}"' for c in WATCHED)
# FTS5 merges its segments as it inserts: by default a level of 4 segments is merged
# and a level of 16 must be. The index of a first sync is a large part of the sync's
# writing, and merging less often took 25-40% off that insert work (trigram index,
# 3,000-6,000 bodies of ~3.5 KB, batches of 500, CPU time) without slower queries;
# `optimize_index` merges it all when asked.
SQLITE_MERGE_SETTINGS = [
    "INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 8)",
    "INSERT INTO search_fts (search_fts, rank) VALUES ('crisismerge', 32)",
]
FTS_COLUMNS = "subject, people, body, grams"
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 0"
SQLITE_INSTALL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    f"{FTS_COLUMNS}, tokenize = '{SQLITE_TOKENIZER}')",
    *SQLITE_MERGE_SETTINGS,
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "CREATE TRIGGER search_fts_insert AFTER INSERT ON mail_message BEGIN "
    f"INSERT INTO search_fts (rowid, {FTS_COLUMNS}) VALUES (new.id, "
    f"{sqlite_values('new')}); END",
    "DROP TRIGGER IF EXISTS search_fts_update",
    f"CREATE TRIGGER search_fts_update AFTER UPDATE OF {_SQLITE_COLUMNS} ON mail_message "
    f"WHEN {_SQLITE_CHANGED} BEGIN "
    "DELETE FROM search_fts WHERE rowid = old.id; "
    f"INSERT INTO search_fts (rowid, {FTS_COLUMNS}) VALUES (new.id, "
    f"{sqlite_values('new')}); END",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "CREATE TRIGGER search_fts_delete AFTER DELETE ON mail_message BEGIN "
    "DELETE FROM search_fts WHERE rowid = old.id; END",
]
SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS search_fts_insert",
    "DROP TRIGGER IF EXISTS search_fts_update",
    "DROP TRIGGER IF EXISTS search_fts_delete",
    "DROP TABLE IF EXISTS search_fts",
]
SQLITE_INDEX_ROWS = (
    f"INSERT INTO search_fts (rowid, {FTS_COLUMNS}) "
    f"SELECT m.id, {sqlite_values('m')} FROM mail_message AS m WHERE {{where}}"
)


def rebuild(schema_editor_or_cursor: Any, vendor: str) -> None:
    """Index every stored message again (after install), in one transaction (a
    migration's). On PostgreSQL the rows are written afresh and the GIN index built
    once at the end: updating every row in place under the index took over 20 minutes
    of a loaded machine for 100,000 messages (each row's ~300 new entries inserted one
    by one, and every old row left dead)."""
    if vendor == "postgresql":
        schema_editor_or_cursor.execute("DROP INDEX IF EXISTS search_document_vector")
        schema_editor_or_cursor.execute("TRUNCATE search_search_document")
        schema_editor_or_cursor.execute(POSTGRES_INDEX_ROWS.format(where="1 = 1"))
        schema_editor_or_cursor.execute(_PG_VECTOR_INDEX)
    else:
        schema_editor_or_cursor.execute("DELETE FROM search_fts")
        schema_editor_or_cursor.execute(SQLITE_INDEX_ROWS.format(where="1 = 1"))


def install(schema_editor_or_cursor: Any, vendor: str) -> None:
    for statement in POSTGRES_INSTALL if vendor == "postgresql" else SQLITE_INSTALL:
        schema_editor_or_cursor.execute(statement)


def uninstall(schema_editor_or_cursor: Any, vendor: str) -> None:
    for statement in POSTGRES_UNINSTALL if vendor == "postgresql" else SQLITE_UNINSTALL:
        schema_editor_or_cursor.execute(statement)
