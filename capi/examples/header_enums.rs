//! Prints the C declarations of `tessera_result` and `tessera_status` from
//! the core's tables (`tessera::Code::ALL`, `tessera::Status::ALL`), in the
//! form cbindgen gives a `#[repr(u32)]` enum. `scripts/header.sh` places
//! them in `include/tessera.h`, so the numbers are written once, in the core.

use std::fmt::Write as _;

fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{indent}// {line}");
    }
}

fn declare(out: &mut String, name: &str, doc: &str, constants: &[(&str, u32, &str)]) {
    comment(out, "", doc);
    let _ = writeln!(
        out,
        "enum {name}\n#ifdef __cplusplus\n  : uint32_t\n#endif // __cplusplus\n {{"
    );
    for (c_name, number, description) in constants {
        comment(out, "  ", description);
        let _ = writeln!(out, "  {c_name} = {number},");
    }
    let _ = writeln!(
        out,
        "}};\n#ifndef __cplusplus\ntypedef uint32_t {name};\n#endif // __cplusplus\n"
    );
}

fn main() {
    let mut out = String::new();
    let codes: Vec<_> = tessera::Code::ALL
        .iter()
        .map(|c| (c.c_name(), *c as u32, c.description()))
        .collect();
    declare(
        &mut out,
        "tessera_result",
        "The result of every fallible export. `TESSERA_OK` is zero; 1 to 99 and
         110 to 189 are the core's stable error codes, 100 to 109 come only
         from the C boundary, 199 is a code this library does not know
         (docs/ERRORS.md).",
        &codes,
    );
    let statuses: Vec<_> = tessera::Status::ALL
        .iter()
        .map(|s| (s.c_name(), *s as u32, s.description()))
        .collect();
    declare(
        &mut out,
        "tessera_status",
        "Whether the license may be used, and if not, why (the Rust `Status`).
         `TESSERA_STATUS_VALID` and `TESSERA_STATUS_VALID_IN_GRACE` are usable;
         every other value is not.",
        &statuses,
    );
    print!("{}", out.trim_end());
}
