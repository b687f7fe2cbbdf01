"""What a vendor connector is: declarations of streams and writes over the generic core.

A connector module declares:
  * `streams`: how to list records (path, paginator, where records sit in the body, the
    pydantic model that validates one record, and a pure `map` to canonical rows);
  * optional `DetailSpec` per stream: a per-record fetch made only when the record's list
    fingerprint changed (Offorte details, Automa quotes by uuid);
  * status vocabularies both ways, a capability matrix, the writable fields and the write
    quirks the engine must know (`Quirk`): the base class checks them before every write,
    so a connector's planning hooks never restate them;
  * write planning: pure hooks from a canonical change to `WriteRequest`s.

The engine (`syncd.engine`) owns paging, checkpoints, fingerprints, quarantine, budgets,
retries, merge and the outbox; a connector never touches the database or sleeps.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from syncd import drift, jsontext
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.errors import BadRecord, VendorUnsupported
from syncd.http.auth import TokenStore
from syncd.http.paginators import Page, Paginator


class Op(StrEnum):
    """Write operations in the capability matrix."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    STATUS = "status"
    SEND = "send"


class VendorOptions(BaseModel):
    """The settings keys only one vendor reads (none here): a connector that has some
    declares a subclass as its `options_model`. They are written flat in the account's
    `[[accounts]]` table and validated when settings load; an unknown key is an error.
    A secret among them is a `SecretStr`: it never prints, and `secrets` hands it to the
    masking of logs and messages like the `[accounts.auth]` secrets.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    # keys a subclass took over from `[accounts.auth]`, where older settings files still
    # have them: the settings loader reads them there (with a warning) when the entry
    # itself has none, so such a file keeps working
    moved_from_auth: ClassVar[frozenset[str]] = frozenset()

    def secrets(self) -> list[str]:
        """The plain values of the secret keys that are set (to be masked, never shown)."""
        return [value.get_secret_value() for _, value in self
                if isinstance(value, SecretStr) and value.get_secret_value()]


class AccountConfig(Protocol):
    """What a connector reads of its account (`syncd.settings.AccountSettings` is one):
    never the whole settings, so vendors depend on nothing of the settings module.
    """

    @property
    def name(self) -> str:
        """The account's name (messages, the `account` column)."""
        ...

    @property
    def base_url(self) -> str:
        """The vendor API's base URL."""
        ...

    @property
    def page_size(self) -> int | None:
        """A page size the user chose instead of the stream's (None: the stream's)."""
        ...

    @property
    def line_item_types(self) -> Sequence[str]:
        """Element types beyond the connector's own that count as line items."""
        ...

    @property
    def status_map(self) -> Mapping[str, ProposalStatus]:
        """The account's status words, beating the connector's table."""
        ...

    @property
    def currency(self) -> str | None:
        """The currency given to records whose vendor sends none (None: leave it empty)."""
        ...

    @property
    def options(self) -> VendorOptions:
        """The account's values of the connector's `options_model`."""
        ...

    def secret(self, key: str, default: str | None = None) -> str | None:
        """The plain value of one `[accounts.auth]` key."""
        ...

    def path(self, name: str, default: str) -> str:
        """An endpoint path, overridable in `[accounts.paths]`."""
        ...


class Quirk(StrEnum):
    """Ways a vendor's write API departs from "one request per changed field" that the
    engine must plan around (declared in `Connector.quirks`).
    """

    # an update replaces the whole record (Automa's Put): push re-reads it and plans the
    # update once, from that fresh read, so a remote edit made since the last pull survives
    FULL_REPLACEMENT = "full_replacement"
    # line items change only inside a rewrite of their proposal: a line-item change plans
    # the proposal's update (the request then carries the items)
    ITEMS_VIA_PARENT = "items_via_parent"


class VendorClient(Protocol):
    """What connectors may use for the few calls they make themselves (lookups, fetches).

    Every call goes through the account's budget, retries and auth, like pulls do:
    `get_one` is a record or None when it is gone (404/410), `paginate` walks a list with
    one of `syncd.http.paginators` (a connector writes no paging loop of its own).
    """

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        endpoint: str | None = None,
    ) -> httpx.Response:
        """Any request, for the writes and lookups a connector makes itself."""
        ...

    def get_json(
        self, path: str, *, params: Mapping[str, Any] | None = None, endpoint: str | None = None,
        records_path: tuple[str, ...] | None = None,
    ) -> Any:
        """A GET's JSON body, its records parsed lazily when `records_path` names where they are."""
        ...

    def get_one(
        self, path: str, *, params: Mapping[str, Any] | None = None,
        endpoint: str | None = None, records_path: tuple[str, ...] = (),
    ) -> Any | None:
        """One record, or None when the vendor says it is gone."""
        ...

    def paginate(
        self, path: str, paginator: Paginator, *, records_path: tuple[str, ...] = (),
        params: Mapping[str, Any] | None = None, endpoint: str | None = None,
        until: threading.Event | None = None, label: str | None = None,
    ) -> Iterator[Page]:
        """The pages of a list, walked by the given paginator."""
        ...


def canonical_json(raw: Any) -> str:
    """A record's JSON with sorted keys: the same text whatever order the vendor used."""
    return jsontext.canonical(raw)


def hash_text(text: str) -> str:
    """A short stable hash of a text, for fingerprints that must match across releases."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def default_fingerprint(raw: Any) -> str:
    """A stable hash of a record's JSON: unchanged records are neither re-fetched nor written."""
    return hash_text(canonical_json(raw))


@dataclass(frozen=True)
class DetailSpec:
    """A per-record request that completes a list record (only when its fingerprint changed).

    `path` is formatted with `id` (from `id_of(list_record)`); `records_path` locates the
    object in the body; `merge(list_record, detail)` returns the raw dict that is validated
    and mapped (default: the detail alone).

    `snapshot`: for a list whose records may carry the detail itself, as the vendor's API
    lists it (Automa's call log holds each quote as Automa sent it): the detail object a
    record carries, or None. A complete one (it maps without what would quarantine it) is
    written at once, without the request, when it is newer than the mirror's row (by the
    vendor's `updated_at`), and the record is marked unverified; the detail request then
    runs later with spare budget only (syncd/engine/verify.py). A record carrying none,
    or an incomplete one, is detailed as usual.
    """

    path: str
    name: str = "detail"
    records_path: tuple[str, ...] = ()
    id_of: Callable[[dict[str, Any]], str] = lambda rec: str(rec["id"])
    merge: Callable[[dict[str, Any], Any], Any] = lambda rec, detail: detail
    snapshot: Callable[[dict[str, Any]], Any] | None = None


@dataclass(frozen=True)
class OneRecord:
    """The request that reads one record of a stream by id (`GET /quotes/{id}`).

    `path` is formatted with `id`; `name` is its `[accounts.paths]` key and names the
    record in errors; `params` go with the request; `records_path` locates the record in
    the answer. The answer is validated with the stream's model and mapped by its `map`.
    """

    path: str
    name: str = "one"
    params: Mapping[str, Any] = field(default_factory=dict)
    records_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamSpec:
    """One list endpoint and how its records become canonical rows.

    * `name`: unique per connector; `[accounts.paths]` overrides `path` under this name.
    * `path`: may contain `{partition}`; the stream then walks every value in `partitions`
      (Offorte's five status lists) and counts as one full scan when all are done.
    * `paginator`: factory `(page_size, state) -> Paginator`; `page_size` is the vendor max.
    * `records_path`: keys leading from the body to the record list (() = bare array).
    * `model`: pydantic model validating one (merged) record, built on `syncd.drift.Record`
      and its tolerant field types: only a record without a usable id or with an unusable
      structure fails (and is quarantined); other odd values degrade and are noted.
    * `map`: `(connector, validated model, raw dict) -> Bundle`; pure, may raise ValueError.
    * `entity`: the canonical table whose rows this stream proves alive: after a complete
      full scan, rows of that entity not seen are marked deleted (if `deletes_missing`).
    * `fingerprint`: what "unchanged" means for a list record (default: hash of its JSON).
    * `is_deleted`: a record the list shows as trashed (StrawBlond `deleted_at`).
    * `sweep_only`: run only in full sweeps (e.g. `filter[trashed]=true`).
    * `high_water`: for lists sorted newest-first (Offorte v2 `sort=date_modified`): the
      record's modification key; an incremental (non-sweep) run stops paging after a page
      holding a record not newer than the mark stored at the previous run's end.
    * `entity` may also be a plain string for non-canonical streams (records go to
      `Bundle.extras`; such streams never delete).
    * `keep_cursor`: an append-only log (Automa call log): after the end the position is
      kept, so the next run continues there instead of starting over.
    * `remap_record`: for `syncd remap`, the record this stream validates rebuilt from what
      its rows store under `raw[stream]` (default: that stored value itself; Automa stores
      the fetched quote, not the call-log entry it was merged with).
    * `skip`: records of a page the engine passes over (no detail request, no count), e.g.
      call-log entries that name no quote; the page position does not change.
    * `one`: how to read one record of this stream by id, where the vendor has such a
      request (`OneRecord`): the default `Connector.fetch_one` reads and maps it like a
      pull does (webhook fetches, verification, the refresh before a full replacement).
    * `covers`: the name of another stream of the same entity whose records this list
      may hold too (StrawBlond's `filter[trashed]` list, which some accounts answer with
      the live offers as well). Requests are the scarce resource, so a sweep reads it
      first, and whether it does is learned from its answers, per account: a complete
      scan holding a record that is not `is_deleted` proves it lists the live records
      too; it then marks what it did not see deleted (the guard applies, its held
      deletions kept under the covered stream's name) and the covered stream is skipped
      in that sweep. A scan holding only trashed records keeps both scans. The verdict of
      the last complete scan is kept in the stream's state (`covers`), so a sweep resumed
      in a new process decides alike; incremental pulls never read a sweep-only list.
    """

    name: str
    path: str
    paginator: Callable[[int, dict[str, Any] | None], Paginator]
    model: type[BaseModel]
    map: Callable[[Any, Any, dict[str, Any]], Bundle]
    entity: Entity | str
    page_size: int = 50
    records_path: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    partitions: tuple[str, ...] = ()
    id_of: Callable[[dict[str, Any]], str] = lambda rec: str(rec["id"])
    fingerprint: Callable[[dict[str, Any]], str] = default_fingerprint
    detail: DetailSpec | None = None
    deletes_missing: bool = True
    is_deleted: Callable[[dict[str, Any]], bool] | None = None
    sweep_only: bool = False
    keep_cursor: bool = False
    high_water: Callable[[dict[str, Any]], Any] | None = None
    remap_record: Callable[[Any], Any] | None = None
    skip: Callable[[Any], bool] | None = None
    one: OneRecord | None = None
    covers: str | None = None


# the name in a request's `fields` saying that it carries its proposal's line items (a
# create with its items, a full rewrite): a success retires the local item placeholders
ITEMS = "line_items"


@dataclass(frozen=True)
class WriteRequest:
    """One planned vendor request: what a connector plans, the outbox stores (inside an
    `syncd.engine.outbox.OutboxEntry`) and push sends, under this one name.

    `kind` says what a success means to the engine: "create" (read the new id with
    `Connector.created_id`), "update", "delete", "send", "status". `fields` lists the
    canonical fields this request carries, so a success updates exactly their base values
    (`ITEMS` among them: the request carries its proposal's line items).
    """

    method: str
    path: str
    kind: str
    entity: Entity
    json: Any = None
    params: Mapping[str, Any] | None = None
    fields: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class WebhookHint:
    """What an authenticated webhook says changed; the engine fetches it before writing."""

    entity: Entity
    remote_id: str
    event: str
    event_id: str
    deleted: bool = False
    occurred_at: float | None = None


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription the vendor already has (see `Connector.existing_webhooks`).

    `key` says what it delivers where, in the form `Connector.webhook_key` gives a
    subscription request (so equal keys mean "already subscribed"); None when the vendor's
    list does not show it (Automa.Net lists neither URL nor secret: syncd then recognises
    the subscriptions it made by the `id` it remembered). `active` is False for one the
    vendor switched off (Offorte deactivates a hook after 10 failed deliveries).
    """

    id: str
    key: str | None
    active: bool = True


class Connector:
    """Base class for vendor connectors; subclasses are mostly class attributes.

    Defaults say "unsupported" so a connector only declares what its vendor can do.
    """

    vendor: ClassVar[str]
    # the README's vendor table (syncd/docs.py): the vendor's name, what syncd reads of it
    # and which `[accounts.auth]` keys it takes, in a few words of Markdown each
    display_name: ClassVar[str] = ""
    reads_summary: ClassVar[str] = ""
    auth_summary: ClassVar[str] = ""
    streams: ClassVar[tuple[StreamSpec, ...]] = ()
    # vendor status word (as the vendor returns it) -> canonical status
    status_map: ClassVar[Mapping[str, ProposalStatus]] = {}
    # canonical status -> what to send to set it (None: the vendor cannot be told)
    status_out: ClassVar[Mapping[ProposalStatus, str | None]] = {}
    # (entity, op) -> None when supported, else the reason it is not
    capabilities: ClassVar[Mapping[tuple[Entity, Op], str | None]] = {}
    # fields the vendor stores per entity (a local change to others is reported unsupported)
    writable_fields: ClassVar[Mapping[Entity, frozenset[str]]] = {}
    # lower-case names of headers that carry a secret of this vendor (a webhook signature),
    # masked wherever syncd shows headers, beside the common ones (syncd/http/redaction.py)
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    # the settings keys only this vendor reads (validated at load, see `VendorOptions`)
    options_model: ClassVar[type[VendorOptions]] = VendorOptions
    # how its writes depart from one request per changed field (see `Quirk`)
    quirks: ClassVar[frozenset[Quirk]] = frozenset()

    def __init__(self, account: AccountConfig) -> None:
        self.account = account

    # ---- transport -----------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        """The `httpx.Auth` that signs every request of this account."""
        return None

    def headers(self) -> dict[str, str]:
        """Headers every request carries (StrawBlond's mandatory Accept, for instance)."""
        return {"Accept": "application/json"}

    def refusal_message(self, response: httpx.Response) -> str:
        """The vendor's own words from an error body, for refusals shown to the user."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:300] or f"HTTP {response.status_code}"
        if isinstance(body, dict):
            for key in ("message", "error", "errors", "detail"):
                if body.get(key):
                    return str(body[key])[:500]
        return str(body)[:500]

    def stream_for(self, entity: Entity) -> str:
        """The stream whose raw payload a targeted fetch of `entity` replaces."""
        for stream in self.streams:
            if stream.entity == entity:
                return stream.name
        return "fetch"

    def active_streams(self, sweep: bool) -> list[StreamSpec]:
        """Streams to run: `sweep_only` ones only in full sweeps; a stream that may cover
        another (`StreamSpec.covers`) runs first, so its answer can spare the other's scan.
        """
        chosen = [s for s in self.streams if sweep or not s.sweep_only]
        return [s for s in chosen if s.covers] + [s for s in chosen if not s.covers]

    # ---- mapping helpers -----------------------------------------------------------------
    def map_status(self, vendor_word: Any, path: str = "status") -> ProposalStatus | None:
        """Canonical status for a vendor word, matched case-, space-, hyphen- and
        underscore-insensitively; the account's `status_map` beats the built-in table.
        A word still unknown gives None and is noted as unmapped (the row keeps the word
        in `vendor_status`), never a quarantined record.
        """
        return drift.lookup(self._status_words(), vendor_word, path)

    def _status_words(self) -> dict[str, ProposalStatus]:
        table = self.__dict__.get("_status_table")
        if table is None:
            overrides = getattr(self.account, "status_map", None) or {}
            table = {**drift.word_table(self.status_map), **drift.word_table(overrides)}
            self.__dict__["_status_table"] = table
        return table

    def is_priced_line(self, word: Any, priced: frozenset[str], unpriced: frozenset[str],
                       carries_amount: bool, path: str) -> bool:
        """Whether an element of type `word` is a line item: a listed priced type (or one
        of the account's `line_item_types`) is; a listed unpriced one (heading, text,
        subtotal) is not; a type never seen is noted and counts as a line item when it
        carries a quantity, a price or an amount (else it stays in raw only).
        """
        key = drift.normalize_word(str(word)) if word not in (None, "") else ""
        priced_words, unpriced_words = self._line_words(priced, unpriced)
        if key in priced_words:
            return True
        if key in unpriced_words:
            return False
        drift.note(drift.DriftKind.UNMAPPED_WORD, path, word)
        return carries_amount

    def _line_words(self, priced: frozenset[str], unpriced: frozenset[str]
                    ) -> tuple[frozenset[str], frozenset[str]]:
        """The normalised type vocabularies (with the account's `line_item_types`), built
        once per pair of tables: the check runs for every element of every proposal.
        """
        cache: dict[tuple[frozenset[str], frozenset[str]], tuple[frozenset[str], frozenset[str]]]
        cache = self.__dict__.setdefault("_line_tables", {})
        found = cache.get((priced, unpriced))
        if found is None:
            extra = getattr(self.account, "line_item_types", None) or ()
            found = (frozenset(drift.normalize_word(t) for t in (*priced, *extra)),
                     frozenset(drift.normalize_word(t) for t in unpriced))
            cache[(priced, unpriced)] = found
        return found

    def capability(self, entity: Entity, op: Op) -> str | None:
        """None when the vendor supports `op` on `entity`, else the reason it does not."""
        return self.capabilities.get((entity, op), f"{self.vendor} has no API to {op} {entity}")

    @property
    def refresh_before_update(self) -> bool:
        """Whether an update replaces the whole record (`Quirk.FULL_REPLACEMENT`)."""
        return Quirk.FULL_REPLACEMENT in self.quirks

    @property
    def line_items_via_parent(self) -> bool:
        """Whether line items change only inside their proposal (`Quirk.ITEMS_VIA_PARENT`)."""
        return Quirk.ITEMS_VIA_PARENT in self.quirks

    def write_refusal(self, entity: Entity, op: Op, fields: Iterable[str] = ()) -> str | None:
        """Why the declarations forbid `op` on `entity` carrying `fields` (None: allowed).

        Read from the capability matrix (an update's `status` is the `STATUS` operation,
        its other fields `UPDATE`), the writable fields and the quirks, so no connector
        restates them; `plan_create`/`plan_update`/`plan_delete` raise it as
        `VendorUnsupported` before a planning hook runs.
        """
        if entity == Entity.LINE_ITEMS and Quirk.ITEMS_VIA_PARENT in self.quirks:
            return f"{self.vendor} writes line items only inside their proposal's update"
        names = set(fields)
        ops = [op]
        if op is Op.UPDATE:
            ops = ([Op.UPDATE] if names - {"status"} or not names else []) + (
                [Op.STATUS] if "status" in names else [])
        for needed in ops:
            reason = self.capability(entity, needed)
            if reason:
                return reason
        extra = sorted(names - self.writable_fields.get(entity, frozenset())) if (
            op is Op.UPDATE) else []
        if extra:
            return (f"{self.vendor} does not take changes to {entity} field(s) "
                    f"{', '.join(extra)}")
        return None

    def _check(self, entity: Entity, op: Op, fields: Iterable[str] = ()) -> None:
        reason = self.write_refusal(entity, op, fields)
        if reason:
            raise VendorUnsupported(reason)

    # ---- writes (pure planning; the engine sends, records and retries) -------------------
    def plan_create(
        self,
        entity: Entity,
        row: dict[str, Any],
        children: list[dict[str, Any]],
        marker: str,
    ) -> list[WriteRequest]:
        """Requests that create `row` at the vendor, tagged with `marker` so a lost
        response can be found again by `find_by_marker` instead of creating twice.
        `row` has references as remote ids (`company_remote_id`, `contact_remote_id`,
        `proposal_remote_id`). Checks the declarations, then asks `create_requests`.
        """
        self._check(entity, Op.CREATE)
        return self.create_requests(entity, row, children, marker)

    def plan_update(
        self,
        entity: Entity,
        remote_id: str,
        changes: dict[str, Any],
        row: dict[str, Any],
        raw: dict[str, Any],
        children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """Requests that send exactly `changes` (canonical field -> new value); with
        `Quirk.FULL_REPLACEMENT`, empty `changes` rewrite the record as the mirror holds it
        (its line items changed). Checks the declarations, then asks `update_requests`.
        """
        self._check(entity, Op.UPDATE, changes)
        return self.update_requests(entity, remote_id, changes, row, raw, children)

    def plan_delete(self, entity: Entity, remote_id: str, row: dict[str, Any]) -> list[WriteRequest]:
        """Requests that delete the record at the vendor. Checks the declarations, then
        asks `delete_requests`.
        """
        self._check(entity, Op.DELETE)
        return self.delete_requests(entity, remote_id, row)

    # planning hooks: called only for what the declarations allow (entity, operation and
    # fields already checked), so a hook handles the vendor's own rules and nothing else
    def create_requests(self, entity: Entity, row: dict[str, Any],
                        children: list[dict[str, Any]], marker: str) -> list[WriteRequest]:
        """The vendor's create requests for an allowed create (see `plan_create`)."""
        raise VendorUnsupported(f"{self.vendor} plans no create of {entity}")

    def update_requests(self, entity: Entity, remote_id: str, changes: dict[str, Any],
                        row: dict[str, Any], raw: dict[str, Any],
                        children: list[dict[str, Any]]) -> list[WriteRequest]:
        """The vendor's update requests for allowed `changes` (see `plan_update`)."""
        raise VendorUnsupported(f"{self.vendor} plans no update of {entity}")

    def delete_requests(self, entity: Entity, remote_id: str,
                        row: dict[str, Any]) -> list[WriteRequest]:
        """The vendor's delete requests for an allowed delete (see `plan_delete`)."""
        raise VendorUnsupported(f"{self.vendor} plans no delete of {entity}")

    def created_id(self, entity: Entity, body: Any) -> str:
        """The new record's remote id from a create response."""
        raise VendorUnsupported("create responses are not understood")

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Look up a record created earlier with `marker` (idempotent create)."""
        return None

    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """The create marker a pulled record carries in its own JSON (`raw`), if any.

        Declared per vendor from where its `plan_create` writes the marker, so a pull that
        meets a record whose create answer was lost links it to the waiting local row
        (syncd/engine/adopt.py) at no request cost instead of mirroring it twice. Default:
        the vendor stores no marker for `entity` (None).
        """
        return None

    def find_lookalikes(self, client: VendorClient, entity: Entity, path: str,
                        body: Any) -> list[str]:
        """Records holding every value a create sent (`path`, `body`), for entities with no
        field to carry a marker: the engine adopts the first one no mirror row holds, when
        an earlier attempt's answer was lost. Default: none (the create is sent again).
        """
        return []

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """A targeted fetch of one record (webhooks, verification); None when gone.

        Default: the `one` request of the stream of `entity` that declares one, validated
        and mapped as the pull does (its drift notes go to the caller's collector); what
        a pull would quarantine is a BadRecord here. A vendor whose record needs more
        (two requests, a wrapper) overrides this.
        """
        stream = next((s for s in self.streams if s.entity == entity and s.one), None)
        if stream is None or stream.one is None:
            raise VendorUnsupported(f"{self.vendor} cannot fetch one {entity}")
        one = stream.one
        raw = client.get_one(self.account.path(one.name, one.path).format(id=remote_id),
                             params=one.params or None, records_path=one.records_path)
        if raw is None:
            return None
        try:
            bundle = stream.map(self, stream.model.model_validate(raw), raw)
        except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadRecord(f"{self.vendor} {one.name} {remote_id}: {exc}", raw) from exc
        drift.unknown_fields(stream.model, raw)
        return bundle

    # ---- webhooks -------------------------------------------------------------------------
    def authenticate_webhook(
        self, headers: Mapping[str, str], body: bytes, path_secret: str | None, secret: str
    ) -> bool:
        """True only for a request that proves it comes from the vendor."""
        return False

    def webhook_hints(self, body: Any) -> list[WebhookHint]:
        """Records an authenticated webhook says changed."""
        return []

    def webhook_secret_from(self, body: Any) -> str | None:
        """A signing secret the vendor issued in a subscription response (StrawBlond)."""
        return None

    def webhook_subscriptions(self, url: str, secret: str) -> list[WriteRequest]:
        """Requests that create the vendor-side webhook subscription(s) pointing at `url`."""
        raise VendorUnsupported(f"{self.vendor} has no webhook API")

    def existing_webhooks(self, client: VendorClient) -> list[Subscription]:
        """The subscriptions the vendor already has, so `syncd webhooks register` creates
        none twice (Offorte allows at most 10). Default: the vendor cannot list them.
        """
        return []

    def webhook_key(self, request: WriteRequest) -> str:
        """What a subscription request delivers where (compared with `Subscription.key`);
        default: the target URL of its body. May contain the secret: never print it.
        """
        body = request.json if isinstance(request.json, Mapping) else {}
        return str(body.get("url") or body.get("payload_url") or request.path)

    def webhook_created_id(self, body: Any) -> str | None:
        """The new subscription's id in a create response (remembered by syncd)."""
        if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping):
            body = body["data"]
        found = body.get("id") if isinstance(body, Mapping) else None
        return None if found is None else str(found)

    def webhook_reactivate(self, subscription: Subscription) -> list[WriteRequest]:
        """Requests that switch a deactivated subscription on again; [] when the vendor
        offers no way (the user then re-enables it in the vendor's UI).
        """
        return []
