"""The CRM v3 object endpoints: list, read, create, update, search and the batch calls.

Each handler takes the store, the object type and the parsed request, and returns
``(status, body)``; call-level refusals raise :class:`~sandbox.hubspot.errors.ApiError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sandbox.hubspot.errors import ApiError, error_body
from sandbox.hubspot.objects import ASSOCIATION_TYPES, ObjectType, object_type
from sandbox.hubspot.search import SearchQuery, run_search
from sandbox.hubspot.store import CrmStore, PropertyError, Record, UniqueConflictError, format_ms

__all__ = ["BATCH_LIMIT", "LIST_LIMIT", "Result"]

LIST_LIMIT = 100
BATCH_LIMIT = 100
Result = tuple[int, Any]
_ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")


def _bad(message: str, **extra: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **extra)


def render(store: CrmStore, obj: ObjectType, record: Record,
           properties: Sequence[str] | None) -> dict[str, Any]:
    """A record as ``SimplePublicObject``: requested properties (unset ones as null)."""
    names = list(properties) if properties else list(obj.defaults)
    names += [n for n in _ALWAYS if n not in names and obj.prop(n)]
    return {"id": str(record.id),
            "properties": {n: store.value(record, n) for n in names if obj.prop(n)},
            "createdAt": format_ms(record.created_ms), "updatedAt": format_ms(record.updated_ms),
            "archived": record.archived}


def _now(store: CrmStore) -> str:
    return format_ms(store.now_ms())


def _batch(store: CrmStore, results: list[dict[str, Any]], errors: list[dict[str, Any]],
           ok_status: int, started: str) -> Result:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                            "completedAt": _now(store)}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return 207, body
    return ok_status, body


def _input_error(category: str, message: str, ids: Sequence[str], *,
                 sub_category: str | None = None) -> dict[str, Any]:
    body = error_body(category, message, sub_category=sub_category,
                      context={"ids": [str(i) for i in ids]}, errors=[], links={})
    body.pop("correlationId")  # per-input errors carry none (spec StandardError)
    return body


def _inputs(body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise _bad("Request body must be an object with an 'inputs' list of objects")
    if len(inputs) > BATCH_LIMIT:
        raise _bad(f"Batch input may not exceed {BATCH_LIMIT} inputs; got {len(inputs)}",
                   sub_category="BATCH_INPUT_TOO_LARGE")
    return inputs


def _props_of(item: Mapping[str, Any]) -> dict[str, Any]:
    props = item.get("properties", {})
    if not isinstance(props, dict):
        raise _bad("'properties' must be an object of property names to values")
    return props


def _property_error(exc: PropertyError) -> ApiError:
    return _bad(f"Property values were not valid: {exc.message}", errors=[{
        "message": exc.message, "code": exc.code, "context": {"propertyName": [exc.name]}}])


# -- single objects --------------------------------------------------------------------------


def list_objects(store: CrmStore, obj: ObjectType, params: Mapping[str, list[str]]) -> Result:
    """``GET /crm/v3/objects/{type}``: id order, ``after`` = the next id to return."""
    try:
        limit = int(params.get("limit", ["10"])[-1])
        after = int(params.get("after", ["0"])[-1] or 0)
    except ValueError:
        raise _bad("'limit' and 'after' must be integers") from None
    if not 0 < limit <= LIST_LIMIT:
        raise _bad(f"limit must be between 1 and {LIST_LIMIT}")
    archived = params.get("archived", ["false"])[-1].lower() == "true"
    props = _multi(params, "properties")
    assoc = [a for a in _multi(params, "associations") if object_type(a)]
    with store.lock:
        ids = sorted(i for i, r in store.records[obj.name].items()
                     if r.archived == archived and i >= after)
        page = ids[:limit]
        results = []
        for record_id in page:
            record = store.records[obj.name][record_id]
            item = render(store, obj, record, props)
            if assoc:
                item["associations"] = _assoc_block(store, obj, record, assoc)
            results.append(item)
    body: dict[str, Any] = {"results": results}
    if len(ids) > limit:
        nxt = str(ids[limit])
        body["paging"] = {"next": {"after": nxt,
                                   "link": f"/crm/v3/objects/{obj.name}?after={nxt}"}}
    return 200, body


def _last(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _multi(params: Mapping[str, list[str]], name: str) -> list[str]:
    """Repeated params (``properties=a&properties=b``) and comma lists, both accepted."""
    return [p for value in params.get(name, []) for p in value.split(",") if p]


def _assoc_block(store: CrmStore, obj: ObjectType, record: Record,
                 targets: list[str]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for name in targets:
        target = object_type(name)
        assert target is not None
        linked = store.associations(obj.name, record.id, target.name)
        if linked:
            label = f"{obj.singular.lower()}_to_{target.singular.lower()}"
            block[target.name] = {"results": [{"id": str(t), "type": label}
                                              for t in sorted(linked)]}
    return block


def _find(store: CrmStore, obj: ObjectType, ref: str, id_property: str | None) -> Record | None:
    if id_property and id_property != "hs_object_id":
        prop = obj.prop(id_property)
        if prop is None or not prop.unique:
            raise _bad(f"{id_property} is not a unique property of {obj.name}")
        return store.find_unique(obj.name, id_property, ref)
    return store.get(obj.name, int(ref)) if str(ref).isdigit() else None


def _not_found(obj: ObjectType) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", "resource not found")


def get_object(store: CrmStore, obj: ObjectType, ref: str,
               params: Mapping[str, list[str]]) -> Result:
    record = _find(store, obj, ref, _last(params, "idProperty"))
    if record is None:
        raise _not_found(obj)
    return 200, render(store, obj, record, _multi(params, "properties"))


def create_object(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    """``POST /crm/v3/objects/{type}``: 201, or 409 CONFLICT with the existing id."""
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object")
    record = _create(store, obj, body)
    return 201, render(store, obj, record, list(_props_of(body)))


def _create(store: CrmStore, obj: ObjectType, item: Mapping[str, Any]) -> Record:
    try:
        record = store.create(obj.name, _props_of(item))
    except PropertyError as exc:
        raise _property_error(exc) from None
    except UniqueConflictError as exc:
        raise ApiError(409, "CONFLICT", str(exc)) from None
    _inline_associations(store, obj, record, item.get("associations"))
    return record


def _inline_associations(store: CrmStore, obj: ObjectType, record: Record, spec: Any) -> None:
    for link in spec or []:
        try:
            to_id = int(link["to"]["id"])
            type_id = int(link["types"][0]["associationTypeId"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise _bad("associations need to.id and types[0].associationTypeId") from None
        target = next((t for (f, t), k in ASSOCIATION_TYPES.items()
                       if f == obj.name and k == type_id), None)
        if target is None or store.get(target, to_id) is None:
            raise _bad(f"association type {type_id} to object {to_id} is not valid "
                       f"from {obj.name}")
        store.associate(obj.name, record.id, target, to_id, type_id,
                        ASSOCIATION_TYPES[(target, obj.name)])


def update_object(store: CrmStore, obj: ObjectType, ref: str, body: Any,
                  params: Mapping[str, list[str]]) -> Result:
    record = _find(store, obj, ref, _last(params, "idProperty"))
    if record is None or not isinstance(body, dict):
        raise _not_found(obj)
    try:
        record = store.update(obj.name, record.id, _props_of(body))
    except PropertyError as exc:
        raise _property_error(exc) from None
    except UniqueConflictError as exc:
        raise ApiError(409, "CONFLICT", str(exc)) from None
    return 200, render(store, obj, record, list(_props_of(body)))


def archive_object(store: CrmStore, obj: ObjectType, ref: str) -> Result:
    if ref.isdigit():
        store.archive(obj.name, int(ref))
    return 204, None


def search(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    query = SearchQuery(store, obj, body)
    page, total, nxt = run_search(store, obj, query)
    out: dict[str, Any] = {"total": total,
                           "results": [render(store, obj, r, query.properties) for r in page]}
    if nxt is not None:
        out["paging"] = {"next": {"after": str(nxt)}}
    return 200, out


# -- batch -----------------------------------------------------------------------------------


def batch_read(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    """Found records in input order; missing ids as one OBJECT_NOT_FOUND error (207)."""
    started = _now(store)
    inputs = _inputs(body)
    id_property = body.get("idProperty")
    props = body.get("properties") or None
    results, missing = [], []
    for item in inputs:
        ref = str(item.get("id", ""))
        record = _find(store, obj, ref, id_property)
        if record is None:
            missing.append(ref)
        else:
            results.append(render(store, obj, record, props))
    errors = [_input_error("OBJECT_NOT_FOUND", f"Could not get some {obj.name} objects, they "
                           "may be deleted or not exist. Check that ids are valid.", missing)
              ] if missing else []
    return _batch(store, results, errors, 200, started)


def batch_create(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    """All or nothing: any invalid input fails the batch (400, or 409 for a duplicate)."""
    started = _now(store)
    inputs = _inputs(body)
    with store.lock:
        seen: dict[str, int] = {}
        for n, item in enumerate(inputs):
            try:
                clean = store.validate(obj, _props_of(item))
            except PropertyError as exc:
                raise _property_error(exc) from None
            email = str(clean.get("email") or "").lower()
            existing = store.find_unique(obj.name, "email", email) if email else None
            if existing is not None or (email and email in seen):
                found = existing.id if existing else seen[email]
                raise ApiError(409, "CONFLICT",
                               f"{obj.singular} already exists. Existing ID: {found}")
            if email:
                seen[email] = -(n + 1)
        records = [_create(store, obj, item) for item in inputs]
    props = sorted({p for item in inputs for p in _props_of(item)})
    return _batch(store, [render(store, obj, r, props) for r in records], [], 201, started)


def batch_update(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    started = _now(store)
    inputs = _inputs(body)
    results, errors, missing = [], [], []
    for item in inputs:
        ref = str(item.get("id", ""))
        record = _find(store, obj, ref, item.get("idProperty"))
        if record is None:
            missing.append(ref)
            continue
        try:
            record = store.update(obj.name, record.id, _props_of(item))
        except PropertyError as exc:
            errors.append(_input_error("VALIDATION_ERROR", exc.message, [ref],
                                       sub_category=exc.code))
            continue
        except UniqueConflictError as exc:
            errors.append(_input_error("CONFLICT", str(exc), [ref]))
            continue
        results.append(render(store, obj, record, list(_props_of(item))))
    if missing:
        errors.append(_input_error("OBJECT_NOT_FOUND", f"Could not get some {obj.name} "
                                   "objects, they may be deleted or not exist.", missing))
    return _batch(store, results, errors, 200, started)


def batch_upsert(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    """Create or update by a unique ``idProperty``; ``new`` tells which happened."""
    started = _now(store)
    inputs = _inputs(body)
    refs = [str(item.get("id", "")).strip().lower() for item in inputs]
    dupes = sorted({r for r in refs if refs.count(r) > 1})
    if dupes:
        raise _bad(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
    results, errors = [], []
    for item in inputs:
        id_property = item.get("idProperty")
        if not id_property:
            raise _bad("every upsert input needs an idProperty")
        ref = str(item.get("id", ""))
        props = dict(_props_of(item))
        with store.lock:
            try:
                record = _find(store, obj, ref, id_property)
                new = record is None
                if record is None:
                    record = store.create(obj.name, {id_property: ref, **props})
                else:
                    record = store.update(obj.name, record.id, props)
            except PropertyError as exc:
                errors.append(_input_error("VALIDATION_ERROR", exc.message, [ref],
                                           sub_category=exc.code))
                continue
            except UniqueConflictError as exc:
                errors.append(_input_error("CONFLICT", str(exc), [ref]))
                continue
        results.append({**render(store, obj, record, [id_property, *props]), "new": new})
    return _batch(store, results, errors, 200, started)


def batch_archive(store: CrmStore, obj: ObjectType, body: Any) -> Result:
    for item in _inputs(body):
        ref = str(item.get("id", ""))
        if ref.isdigit():
            store.archive(obj.name, int(ref))
    return 204, None


def properties(obj: ObjectType) -> Result:
    return 200, {"results": [p.to_json(obj.name) for p in obj.properties]}
