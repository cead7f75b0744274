//! The SOQL subset that seed 000's five tasks need, and nothing more:
//! `SELECT field [, field]* FROM object [WHERE field = 'value' [AND field =
//! 'value']*]`. Keywords, fields and the object's name are matched without
//! regard to case, as Salesforce does; values are string literals with
//! SOQL's backslash escapes. Anything else is an error whose message says
//! where the query went wrong (Salesforce's `MALFORMED_QUERY`).

/// The longest query taken, in bytes.
pub(crate) const MAX_QUERY: usize = 4096;

/// A parsed query: the fields selected, the object, the filters, each
/// field as the query wrote it (the caller resolves names).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) fields: Vec<String>,
    pub(crate) object: String,
    pub(crate) filters: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Comma,
    Equals,
}

fn tokens(q: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = q.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            ',' => out.push(Token::Comma),
            '=' => out.push(Token::Equals),
            '\'' => {
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("the string at {at} is not closed")),
                        Some((_, '\'')) => break,
                        Some((i, '\\')) => match chars.next() {
                            Some((_, 'n')) => text.push('\n'),
                            Some((_, 'r')) => text.push('\r'),
                            Some((_, 't')) => text.push('\t'),
                            Some((_, 'b')) => text.push('\u{8}'),
                            Some((_, 'f')) => text.push('\u{c}'),
                            Some((_, e @ ('\'' | '"' | '\\'))) => text.push(e),
                            _ => return Err(format!("invalid escape at {i}")),
                        },
                        Some((_, c)) => text.push(c),
                    }
                }
                out.push(Token::Text(text));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = c.to_string();
                while let Some(&(_, c)) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
            c => return Err(format!("unexpected {c:?} at {at}")),
        }
    }
    Ok(out)
}

fn keyword(t: Option<&Token>, k: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
}

fn is_keyword(w: &str) -> bool {
    ["select", "from", "where", "and"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// Parses `q`, or says what is wrong with it.
pub(crate) fn parse(q: &str) -> Result<Query, String> {
    if q.len() > MAX_QUERY {
        return Err(format!("the query is longer than {MAX_QUERY} bytes"));
    }
    let tokens = tokens(q)?;
    let mut t = tokens.iter().peekable();
    if !keyword(t.next(), "select") {
        return Err("a query starts with SELECT".into());
    }
    let mut fields = Vec::new();
    loop {
        match t.next() {
            Some(Token::Word(w)) if !is_keyword(w) => fields.push(w.clone()),
            _ => return Err("SELECT takes field names, separated by commas".into()),
        }
        match t.peek() {
            Some(Token::Comma) => {
                t.next();
            }
            _ => break,
        }
    }
    if !keyword(t.next(), "from") {
        return Err("expected FROM after the fields".into());
    }
    let object = match t.next() {
        Some(Token::Word(w)) if !is_keyword(w) => w.clone(),
        _ => return Err("FROM takes an object name".into()),
    };
    let mut filters = Vec::new();
    if t.peek().is_some() {
        if !keyword(t.next(), "where") {
            return Err("only WHERE may follow the object".into());
        }
        loop {
            let field = match t.next() {
                Some(Token::Word(w)) if !is_keyword(w) => w.clone(),
                _ => return Err("WHERE takes field = 'value'".into()),
            };
            if t.next() != Some(&Token::Equals) {
                return Err(format!("only = is supported, after {field}"));
            }
            let Some(Token::Text(value)) = t.next() else {
                return Err(format!("{field} = takes a quoted string"));
            };
            filters.push((field, value.clone()));
            match t.next() {
                None => break,
                Some(next) if keyword(Some(next), "and") => {}
                Some(_) => return Err("conditions are joined by AND only".into()),
            }
        }
    }
    Ok(Query {
        fields,
        object,
        filters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(fields: &[&str], object: &str, filters: &[(&str, &str)]) -> Query {
        Query {
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            object: object.to_owned(),
            filters: filters
                .iter()
                .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_five_tasks_queries_parse() {
        assert_eq!(
            parse("SELECT AllowedLicenses, UsedLicenses FROM PackageLicense WHERE NamespacePrefix = 'acme'"),
            Ok(q(&["AllowedLicenses", "UsedLicenses"], "PackageLicense", &[("NamespacePrefix", "acme")]))
        );
        assert_eq!(
            parse(
                "select Id from UserPackageLicense where UserId='u1' and PackageLicenseId = 'L-1'"
            ),
            Ok(q(
                &["Id"],
                "UserPackageLicense",
                &[("UserId", "u1"), ("PackageLicenseId", "L-1")]
            ))
        );
        assert_eq!(
            parse("SELECT UserId FROM UserPackageLicense"),
            Ok(q(&["UserId"], "UserPackageLicense", &[]))
        );
        assert_eq!(
            parse(r"SELECT Id FROM PackageLicense WHERE Id = 'a\'b\\c'"),
            Ok(q(&["Id"], "PackageLicense", &[("Id", "a'b\\c")]))
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "SELECT",
            "SELECT FROM PackageLicense",
            "SELECT Id PackageLicense",
            "SELECT Id, FROM PackageLicense",
            "SELECT * FROM PackageLicense",
            "SELECT Id FROM",
            "SELECT Id FROM PackageLicense LIMIT 5",
            "SELECT Id FROM PackageLicense WHERE",
            "SELECT Id FROM PackageLicense WHERE Id != 'x'",
            "SELECT Id FROM PackageLicense WHERE Id = x",
            "SELECT Id FROM PackageLicense WHERE Id = 'x' OR Id = 'y'",
            "SELECT Id FROM PackageLicense WHERE Id = 'x",
            "SELECT Id FROM PackageLicense WHERE Id = 'x\\q'",
            "SELECT Id FROM PackageLicense WHERE Id = 'x' AND",
            "SELECT Id FROM PackageLicense; DELETE",
            "SELECT COUNT() FROM PackageLicense",
            "UPDATE PackageLicense",
            "SELECT from FROM PackageLicense",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was taken");
        }
        assert!(parse(&format!(
            "SELECT Id FROM PackageLicense WHERE Id = '{}'",
            "x".repeat(MAX_QUERY)
        ))
        .is_err());
    }
}
