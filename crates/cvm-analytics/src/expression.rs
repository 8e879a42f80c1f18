//! The checker of analysts' expressions: segment predicates (`arpu_3m_avg >= 100 AND
//! tenure_months > 12`) and the terms of the value model.
//!
//! An analyst writes SQL WHERE syntax, but what runs is never their text pasted into a
//! query: the text is parsed into a syntax tree, every node is checked against a short list
//! (feature columns, literals, comparison / boolean / arithmetic operators, `IN`,
//! `BETWEEN`, `LIKE`, `IS [NOT] NULL`, `CASE` and the functions of [`FUNCTIONS`]), and only
//! a checked tree is handed to DataFusion, as an expression over the one features table.
//! Anything else (subqueries, other tables, qualified names, statements, unknown columns or
//! functions) is refused with the line and column of the offending part.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CeilFloorKind, DateTimeField, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned,
    UnaryOperator, Value,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token};

/// Functions an expression may call (lower case).
pub const FUNCTIONS: &[&str] =
    &["abs", "round", "floor", "ceil", "coalesce", "nullif", "least", "greatest", "lower", "upper", "ln", "sqrt"];

/// Longest expression accepted, in characters.
pub const MAX_LEN: usize = 4000;

/// Deepest nesting accepted: a guard against stack exhaustion by pathological input.
const MAX_DEPTH: usize = 64;

/// An expression that passed the checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedExpr {
    /// The text as the analyst wrote it.
    pub text: String,
    /// Feature columns it reads, lower case, sorted, without repeats.
    pub columns: Vec<String>,
}

/// Why an expression was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}{}: {message}", near.as_ref().map(|n| format!(" (near `{n}`)")).unwrap_or_default())]
pub struct ExpressionError {
    /// Line of the offending part, from 1 (0 when it concerns the whole text).
    pub line: u64,
    /// Column of the offending part, from 1.
    pub column: u64,
    /// The offending part, shortened.
    pub near: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ExpressionError {
    fn at(location: Location, near: Option<String>, message: impl Into<String>) -> ExpressionError {
        let near = near
            .map(|n| if n.chars().count() > 40 { format!("{}...", n.chars().take(40).collect::<String>()) } else { n });
        ExpressionError { line: location.line, column: location.column, near, message: message.into() }
    }
}

/// Checks `text` as an expression over `columns` (the names of the feature table).
pub fn check(text: &str, columns: &[String]) -> Result<CheckedExpr, ExpressionError> {
    let whole = Location { line: 0, column: 0 };
    if text.trim().is_empty() {
        return Err(ExpressionError::at(whole, None, "the expression is empty"));
    }
    if text.chars().count() > MAX_LEN {
        return Err(ExpressionError::at(whole, None, format!("the expression is longer than {MAX_LEN} characters")));
    }
    let dialect = GenericDialect {};
    let parse_error = |e: datafusion::sql::sqlparser::parser::ParserError| {
        ExpressionError::at(whole, None, format!("not a valid expression: {e}"))
    };
    let mut parser = Parser::new(&dialect).with_recursion_limit(MAX_DEPTH).try_with_sql(text).map_err(parse_error)?;
    let expr = parser.parse_expr().map_err(parse_error)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(ExpressionError::at(
            next.span.start,
            Some(next.token.to_string()),
            "unexpected text after the expression: one expression only, no `;` or further statements",
        ));
    }
    let mut walk = Walk { columns, used: Vec::new() };
    walk.expr(&expr, 0)?;
    walk.used.sort();
    walk.used.dedup();
    Ok(CheckedExpr { text: text.to_owned(), columns: walk.used })
}

/// Checks `text` against the columns of `schema` and turns it into a DataFusion expression
/// over them: the one way analysts' text reaches the engine. The error is the message to
/// show (the checker's, with line and column, or the planner's).
pub fn to_expr(
    ctx: &datafusion::prelude::SessionContext,
    schema: &datafusion::common::DFSchema,
    text: &str,
) -> Result<(CheckedExpr, datafusion::logical_expr::Expr), String> {
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().to_lowercase()).collect();
    let checked = check(text, &columns).map_err(|e| e.to_string())?;
    let expr = ctx.parse_sql_expr(&checked.text, schema).map_err(|e| e.to_string())?;
    Ok((checked, expr))
}

/// The state of one check: the allowed columns and the ones seen.
struct Walk<'a> {
    columns: &'a [String],
    used: Vec<String>,
}

impl Walk<'_> {
    fn expr(&mut self, e: &Expr, depth: usize) -> Result<(), ExpressionError> {
        if depth > MAX_DEPTH {
            return Err(refuse(e, "the expression is nested too deeply"));
        }
        let d = depth + 1;
        match e {
            Expr::Identifier(ident) => {
                let name = ident.value.to_lowercase();
                if self.columns.contains(&name) {
                    self.used.push(name);
                    Ok(())
                } else {
                    let hint =
                        nearest(&name, self.columns).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
                    Err(ExpressionError::at(
                        ident.span.start,
                        Some(ident.value.clone()),
                        format!("unknown column `{}`: only feature columns may be used{hint}", ident.value),
                    ))
                }
            }
            Expr::CompoundIdentifier(_) | Expr::CompoundFieldAccess { .. } => {
                Err(refuse(e, "qualified names are not allowed: an expression sees only the feature columns"))
            }
            Expr::Value(v) => match &v.value {
                Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => Ok(()),
                _ => Err(refuse(e, "only numbers, 'text', TRUE, FALSE and NULL literals are allowed")),
            },
            Expr::BinaryOp { left, op, right } => {
                use BinaryOperator as B;
                match op {
                    B::Plus
                    | B::Minus
                    | B::Multiply
                    | B::Divide
                    | B::Modulo
                    | B::Gt
                    | B::Lt
                    | B::GtEq
                    | B::LtEq
                    | B::Eq
                    | B::NotEq
                    | B::And
                    | B::Or => {
                        self.expr(left, d)?;
                        self.expr(right, d)
                    }
                    other => Err(refuse(e, format!("operator `{other}` is not allowed"))),
                }
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Not | UnaryOperator::Minus | UnaryOperator::Plus => self.expr(expr, d),
                other => Err(refuse(e, format!("operator `{other}` is not allowed"))),
            },
            Expr::Nested(inner)
            | Expr::IsNull(inner)
            | Expr::IsNotNull(inner)
            | Expr::IsTrue(inner)
            | Expr::IsNotTrue(inner)
            | Expr::IsFalse(inner)
            | Expr::IsNotFalse(inner) => self.expr(inner, d),
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                self.expr(a, d)?;
                self.expr(b, d)
            }
            Expr::Between { expr, low, high, .. } => {
                self.expr(expr, d)?;
                self.expr(low, d)?;
                self.expr(high, d)
            }
            Expr::InList { expr, list, .. } => {
                self.expr(expr, d)?;
                list.iter().try_for_each(|x| self.expr(x, d))
            }
            Expr::Like { expr, pattern, escape_char: None, any: false, .. }
            | Expr::ILike { expr, pattern, escape_char: None, any: false, .. } => {
                self.expr(expr, d)?;
                self.expr(pattern, d)
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                if let Some(o) = operand {
                    self.expr(o, d)?;
                }
                for when in conditions {
                    self.expr(&when.condition, d)?;
                    self.expr(&when.result, d)?;
                }
                else_result.as_deref().map_or(Ok(()), |x| self.expr(x, d))
            }
            Expr::Ceil { expr, field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) }
            | Expr::Floor { expr, field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) } => {
                self.expr(expr, d)
            }
            Expr::Function(f) => {
                let name = f.name.to_string().to_lowercase();
                if f.name.0.len() != 1 || !FUNCTIONS.contains(&name.as_str()) {
                    return Err(refuse(
                        e,
                        format!("function `{}` is not allowed; allowed: {}", f.name, FUNCTIONS.join(", ")),
                    ));
                }
                let plain = f.filter.is_none()
                    && f.over.is_none()
                    && f.null_treatment.is_none()
                    && f.within_group.is_empty()
                    && matches!(f.parameters, FunctionArguments::None);
                let FunctionArguments::List(list) = &f.args else {
                    return Err(refuse(e, format!("`{name}` needs its arguments in parentheses")));
                };
                if !plain || list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(refuse(e, format!("`{name}` may only be called with plain arguments")));
                }
                for arg in &list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => self.expr(x, d)?,
                        _ => return Err(refuse(e, format!("`{name}` may only be called with plain arguments"))),
                    }
                }
                Ok(())
            }
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => Err(refuse(
                e,
                "subqueries are not allowed: an expression looks at one subscriber's features, not at tables",
            )),
            _ => Err(refuse(
                e,
                "not allowed here: use feature columns, literals, comparisons, AND/OR/NOT, + - * / %, IN, \
                 BETWEEN, LIKE, IS [NOT] NULL, CASE and the listed functions",
            )),
        }
    }
}

/// A refusal pointing at `e`.
fn refuse(e: &Expr, message: impl Into<String>) -> ExpressionError {
    ExpressionError::at(e.span().start, Some(e.to_string()), message)
}

/// The column closest to `name` by edit distance, if close enough to be a typo.
fn nearest<'a>(name: &str, columns: &'a [String]) -> Option<&'a String> {
    columns
        .iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<String> {
        ["arpu_3m_avg", "tenure_months", "brand", "age", "consent_sms", "occupation"].map(String::from).to_vec()
    }

    #[test]
    fn reports_the_columns_read() {
        let c = check("arpu_3m_avg >= 100 AND tenure_months > 12 OR ARPU_3M_AVG < 5", &columns()).unwrap();
        assert_eq!(c.columns, ["arpu_3m_avg", "tenure_months"]);
    }

    #[test]
    fn points_at_an_unknown_column_and_suggests_the_near_one() {
        let e = check("arpu_3m_avg >= 100 AND tenure_month > 12", &columns()).unwrap_err();
        assert_eq!((e.line, e.column), (1, 24));
        assert!(e.message.contains("did you mean `tenure_months`"), "{e}");
    }

    #[test]
    fn edit_distance_of_known_pairs() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
