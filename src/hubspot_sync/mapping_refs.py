"""The checks across mapping files: every entity a mapping names (depends_on,
associations, ``id_of``, timeline targets) has a mapping file, and depends_on has no
cycle. Kept apart from the per-file schema in ``mapping``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.mapping import EntityMapping


def _entity_references(mapping: EntityMapping) -> list[tuple[str, str]]:
    """(key path, entity name) for every entity the mapping names: depends_on,
    associations and ``id_of`` (of its own properties and of its children's)."""
    refs = [(f"depends_on[{i}]", name) for i, name in enumerate(mapping.depends_on)]
    refs += [(f"associations[{i}].to", a.to) for i, a in enumerate(mapping.associations)]
    refs += [(f"properties[{i}].id_of", p.id_of) for i, p in enumerate(mapping.properties)
             if p.id_of is not None]
    refs += [(f"children[{c}].properties[{i}].id_of", p.id_of)
             for c, child in enumerate(mapping.children)
             for i, p in enumerate(child.properties) if p.id_of is not None]
    refs += [(f"timeline[{t}].attach_to[{i}].entity", target.entity)
             for t, spec in enumerate(mapping.timeline)
             for i, target in enumerate(spec.attach_to)]
    return refs


def _dependency_cycles(mappings: dict[str, EntityMapping]) -> list[list[str]]:
    """Each depends_on cycle once, as the path that closes it (``a -> b -> a``)."""
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # name -> "open" (on the current path) | "done"

    def visit(path: list[str]) -> None:  # path ends with the entity visited
        name = path[-1]
        state[name] = "open"
        for dep in sorted(set(mappings[name].depends_on)):
            if dep not in mappings:
                continue
            if state.get(dep) == "open":
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit([*path, dep])
        state[name] = "done"

    for name in sorted(mappings):
        if name not in state:
            visit([name])
    return cycles


def reference_errors(mappings: dict[str, EntityMapping], paths: dict[str, Path],
                      known: set[str]) -> dict[str, str]:
    """Parse-time errors of mappings that name an unknown entity or sit on a depends_on
    cycle, by entity; each message names the file, the key and the name or the cycle."""
    errors: dict[str, list[str]] = {}
    for name, mapping in mappings.items():
        for key, target in _entity_references(mapping):
            if target not in known:
                errors.setdefault(name, []).append(
                    f"{paths[name]}: {key}: {target!r} is not an entity with a mapping file "
                    f"(known: {', '.join(sorted(known))})")
    for cycle in _dependency_cycles(mappings):
        text = " -> ".join(cycle)
        for name in dict.fromkeys(cycle):
            key = f"depends_on[{mappings[name].depends_on.index(cycle[cycle.index(name) + 1])}]"
            errors.setdefault(name, []).append(
                f"{paths[name]}: {key}: depends_on cycle {text}; an entity cannot wait for "
                "itself")
    return {name: "\n".join(lines) for name, lines in errors.items()}
