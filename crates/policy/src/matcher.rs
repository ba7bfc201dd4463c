//! Wildcard matching (`*` and `?`), ARN matching and policy variables (`${aws:username}`).
//!
//! Patterns are turned into [`Tok`]ens before matching so that text substituted from a policy
//! variable, or written with the `${*}` / `${?}` escapes, is always literal: a user name that
//! happened to contain `*` can never widen a grant.

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A character that must be present as is.
    Lit(char),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Turns a pattern where `*` and `?` are wildcards into tokens.
pub(crate) fn tokens(pattern: &str) -> Vec<Tok> {
    pattern.chars().map(wild_tok).collect()
}

fn wild_tok(c: char) -> Tok {
    match c {
        '*' => Tok::Star,
        '?' => Tok::One,
        c => Tok::Lit(c),
    }
}

/// Matches `text` against a tokenised pattern, in O(len(pattern) * len(text)) at worst (a
/// single backtracking point, no recursion), so hostile patterns cannot blow up.
pub(crate) fn glob(pat: &[Tok], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    glob_chars(pat, &text)
}

fn glob_chars(pat: &[Tok], text: &[char]) -> bool {
    let mut p = 0;
    let mut t = 0;
    // Position of the last `*` seen in the pattern and the text position it is tried at.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(t) {
        match pat.get(p) {
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(l)) if *l == c => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..).unwrap_or_default().iter().all(|tok| *tok == Tok::Star)
}

/// Case-insensitive wildcard match for actions (`s3:Get*` matches `s3:getobject`). The pattern
/// must already be lower-cased (done once at parse time).
pub(crate) fn action_match(lower_pat: &[Tok], action: &str) -> bool {
    if lower_pat == [Tok::Star] {
        return true;
    }
    glob(lower_pat, &action.to_lowercase())
}

/// Case-sensitive ARN match. The pattern and the ARN are each split on `:` into at most six
/// parts (`arn:partition:service:region:account:resource`); the parts are matched one by one,
/// so a `*` in the first five parts never crosses a colon, while in the resource part it
/// matches anything, `/` and `:` included. A pattern made of a single `*` matches everything.
/// A pattern and an ARN with different numbers of parts do not match.
pub(crate) fn arn_match(pat: &[Tok], arn: &str) -> bool {
    if pat == [Tok::Star] {
        return true;
    }
    let pat_parts = split_tokens(pat);
    let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
    pat_parts.len() == arn_parts.len() && pat_parts.iter().zip(&arn_parts).all(|(p, a)| glob(p, a))
}

fn split_tokens(pat: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::with_capacity(6);
    let mut rest = pat;
    while parts.len() < 5 {
        match rest.iter().position(|t| *t == Tok::Lit(':')) {
            Some(i) => {
                parts.push(rest.get(..i).unwrap_or_default());
                rest = rest.get(i + 1..).unwrap_or_default();
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

/// Where a template gets the values of its variables from.
pub(crate) trait Vars {
    /// The single value of a (lower-case) context key, or `None` when the key is absent or has
    /// several values (a multi-valued key cannot be used as a variable).
    fn var(&self, lower_key: &str) -> Option<String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text written in the policy; `*` and `?` in it are wildcards where the operator allows.
    Text(String),
    /// `${key}` or `${key, 'default'}`.
    Var { key: String, default: Option<String> },
    /// `${*}`, `${?}` or `${$}`: a literal character.
    Escaped(char),
}

/// A policy string that may contain policy variables.
///
/// Variables are only recognised when the policy has `"Version": "2012-10-17"`; in older or
/// versionless policies `${...}` is plain text, as in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `raw`; with `variables` false the whole string is text. A `${` that does not
    /// start a well-formed variable is kept as text.
    pub(crate) fn parse(raw: &str, variables: bool) -> Self {
        if !variables || !raw.contains("${") {
            return Self { pieces: vec![Piece::Text(raw.to_owned())] };
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            text.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let parsed = after.find('}').and_then(|end| {
                let inner = after.get(..end).unwrap_or_default();
                parse_variable(inner).map(|piece| (piece, end))
            });
            match parsed {
                Some((piece, end)) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(piece);
                    rest = after.get(end + 1..).unwrap_or_default();
                }
                None => {
                    text.push_str("${");
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Self { pieces }
    }

    /// Resolves to wildcard tokens: `*`/`?` written in the policy are wildcards, variable
    /// values and escapes are literal. `None` when a variable has no value and no default.
    pub(crate) fn to_tokens(&self, vars: &dyn Vars) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.extend(t.chars().map(wild_tok)),
                Piece::Escaped(c) => out.push(Tok::Lit(*c)),
                Piece::Var { key, default } => {
                    let value = vars.var(key).or_else(|| default.clone())?;
                    out.extend(value.chars().map(Tok::Lit));
                }
            }
        }
        Some(out)
    }

    /// Resolves to a plain string (for operators without wildcards). `None` when a variable
    /// has no value and no default.
    pub(crate) fn to_text(&self, vars: &dyn Vars) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Escaped(c) => out.push(*c),
                Piece::Var { key, default } => out.push_str(&vars.var(key).or_else(|| default.clone())?),
            }
        }
        Some(out)
    }
}

/// Parses the inside of `${...}`.
fn parse_variable(inner: &str) -> Option<Piece> {
    let trimmed = inner.trim();
    match trimmed {
        "*" => return Some(Piece::Escaped('*')),
        "?" => return Some(Piece::Escaped('?')),
        "$" => return Some(Piece::Escaped('$')),
        _ => {}
    }
    let (key, default) = match trimmed.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'');
            if !quoted {
                return None;
            }
            (key.trim(), Some(default.get(1..default.len() - 1).unwrap_or_default().to_owned()))
        }
        None => (trimmed, None),
    };
    let valid_key =
        !key.is_empty() && key.chars().all(|c| !c.is_whitespace() && !matches!(c, '{' | '}' | '$' | '\'' | ','));
    valid_key.then(|| Piece::Var { key: key.to_lowercase(), default })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, String>);
    impl Vars for Map {
        fn var(&self, lower_key: &str) -> Option<String> {
            self.0.get(lower_key).cloned()
        }
    }
    fn vars(pairs: &[(&str, &str)]) -> Map {
        Map(pairs.iter().map(|(k, v)| (k.to_lowercase(), (*v).to_owned())).collect())
    }

    fn g(p: &str, t: &str) -> bool {
        glob(&tokens(p), t)
    }

    #[test]
    fn glob_basics() {
        assert!(g("", ""));
        assert!(!g("", "a"));
        assert!(g("*", ""));
        assert!(g("*", "anything/at:all"));
        assert!(g("abc", "abc"));
        assert!(!g("abc", "abd"));
        assert!(!g("abc", "ABC"), "glob is case-sensitive");
        assert!(g("a*c", "abbbbc"));
        assert!(g("a*c", "ac"));
        assert!(!g("a*c", "acb"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(!g("a?c", "abbc"));
        assert!(g("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!g("*a*b*c*", "xxcxxbxxaxx"));
        assert!(g("??", "é€"), "? matches one character, not one byte");
        assert!(g("a**b", "ab"));
        assert!(g("*.txt", "dir/file.txt"));
        assert!(!g("*.txt", "dir/file.txt.bak"));
    }

    #[test]
    fn glob_is_not_exponential() {
        let pat = "*a".repeat(40) + "b";
        let text = "a".repeat(5000);
        assert!(!g(&pat, &text));
    }

    #[test]
    fn action_matching_is_case_insensitive() {
        let p = tokens(&"s3:Get*".to_lowercase());
        assert!(action_match(&p, "s3:GetObject"));
        assert!(action_match(&p, "S3:GETOBJECTACL"));
        assert!(!action_match(&p, "s3:PutObject"));
        assert!(action_match(&[Tok::Star], "iam:CreateUser"));
        let q = tokens(&"s3:?etObject".to_lowercase());
        assert!(action_match(&q, "s3:GetObject"));
        assert!(action_match(&q, "s3:SetObject"));
        assert!(!action_match(&q, "s3:GGetObject"));
    }

    fn a(p: &str, arn: &str) -> bool {
        arn_match(&tokens(p), arn)
    }

    #[test]
    fn arn_matching() {
        assert!(a("*", "arn:aws:s3:::bucket/key"));
        assert!(a("*", "not-an-arn"));
        assert!(a("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c"));
        assert!(a("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b:c"), "colons in the resource part");
        assert!(!a("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket"));
        assert!(a("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket"));
        assert!(!a("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x"), "case-sensitive");
        assert!(a("arn:aws:s3:::*", "arn:aws:s3:::b/k"));
        assert!(a("arn:*:s3:::b", "arn:aws:s3:::b"));
        assert!(!a("arn:*:::b", "arn:aws:s3:::b"), "* does not cross a colon before the resource part");
        assert!(a("arn:aws:iam::*:user/*", "arn:aws:iam::123456789012:user/alice"));
        assert!(!a("arn:aws:iam::*:user/*", "arn:aws:iam::123456789012:role/alice"));
        assert!(a("arn:aws:iam::12345678901?:root", "arn:aws:iam::123456789012:root"));
        assert!(!a("arn:aws:s3:::bucket/key", "arn:aws:s3:::bucket"));
        assert!(!a("arn:aws:s3:::b", "arn:aws:s3::b"), "different number of parts");
        assert!(a("x*", "xyz"), "non-ARN strings are matched as one part");
    }

    #[test]
    fn template_variables() {
        let v = vars(&[("aws:username", "alice"), ("aws:userid", "AIDA:x*")]);
        let t = Template::parse("arn:aws:s3:::home/${aws:username}/*", true);
        assert!(arn_match(&t.to_tokens(&v).unwrap(), "arn:aws:s3:::home/alice/file"));
        assert!(!arn_match(&t.to_tokens(&v).unwrap(), "arn:aws:s3:::home/bob/file"));
        // case-insensitive variable names
        let t = Template::parse("${AWS:UserName}", true);
        assert_eq!(t.to_text(&v).unwrap(), "alice");
        // values are literal, never wildcards
        let t = Template::parse("p/${aws:userid}", true);
        let toks = t.to_tokens(&v).unwrap();
        assert!(glob(&toks, "p/AIDA:x*"));
        assert!(!glob(&toks, "p/AIDA:xyz"));
        // missing key
        let t = Template::parse("${aws:PrincipalAccount}", true);
        assert!(t.to_tokens(&v).is_none());
        assert!(t.to_text(&v).is_none());
        // default value
        let t = Template::parse("${aws:PrincipalAccount, 'none'}-x", true);
        assert_eq!(t.to_text(&v).unwrap(), "none-x");
    }

    #[test]
    fn template_escapes_and_literals() {
        let v = vars(&[]);
        let t = Template::parse("a${*}b${?}c${$}d*", true);
        assert_eq!(t.to_text(&v).unwrap(), "a*b?c$d*");
        let toks = t.to_tokens(&v).unwrap();
        assert!(glob(&toks, "a*b?c$dxyz"));
        assert!(!glob(&toks, "aXb?c$d"));
        // malformed variables stay literal text
        for raw in ["${", "${}", "x${unterminated", "${a b}", "${k, nodefaultquotes}", "$${x"] {
            let t = Template::parse(raw, true);
            assert_eq!(t.to_text(&v).unwrap(), raw, "{raw}");
        }
        // variables disabled (old policy version)
        let t = Template::parse("home/${aws:username}", false);
        assert_eq!(t.to_text(&vars(&[("aws:username", "alice")])).unwrap(), "home/${aws:username}");
    }
}
