//! A static bound over the parsed template: the largest size every expression's
//! value can have, from the sizes of the context's values, the literals, and the
//! growth of each filter. A template is refused, with its line, when a value could
//! pass [`MAX_VALUE_BYTES`], when all the values it builds together could pass
//! [`MAX_BUILT_BYTES`], or when it uses a construct whose growth cannot be bounded.

use std::collections::BTreeMap;

use minijinja::machinery::ast::{self, BinOpKind, CallArg, CallType, Expr, Stmt};

use super::filters::{self, Arg, Args, SCALAR, filter_growth, range_growth};
use super::{ContextBounds, MAX_BUILT_BYTES, MAX_VALUE_BYTES, Size, size_of};

/// A refusal: the template line and why.
pub(super) type Refusal = (Option<usize>, String);

const BOOL: Size = Size {
    bytes: 8,
    depth: 0,
    nodes: 1,
};

/// The deepest loops may nest. Each loop's body is walked twice (to see whether a
/// value grows from round to round), so the walk doubles with every level; real
/// messages nest two or three.
const MAX_LOOP_NESTING: usize = 8;

/// How to write a template that stays within the limits.
const INSTEAD: &str =
    "write the parts out one by one (`{{ a }}{{ b }}`) instead of building one large value";

pub(super) struct Analysis<'c> {
    context: &'c ContextBounds,
    /// Names bound by `set`, `with` and `for`, innermost scope last; each holds the
    /// largest value ever assigned to it.
    scopes: Vec<BTreeMap<String, Size>>,
    /// The sum of the bounds of every value the template builds.
    built: u64,
    /// How many loops enclose the statement being walked.
    loops: usize,
    line: usize,
}

fn line_of(span: minijinja::machinery::Span) -> usize {
    usize::from(span.start_line)
}

impl<'c> Analysis<'c> {
    pub fn new(context: &'c ContextBounds) -> Self {
        Analysis {
            context,
            scopes: vec![BTreeMap::new()],
            built: 0,
            loops: 0,
            line: 1,
        }
    }

    fn refuse<T>(&self, why: impl Into<String>) -> Result<T, Refusal> {
        Err((Some(self.line), why.into()))
    }

    /// The largest value `name` can hold: the largest any scope gives it (which one
    /// wins at run time does not matter to a bound), else the context's.
    fn lookup(&self, name: &str) -> Size {
        let mut found = None;
        for scope in &self.scopes {
            if let Some(s) = scope.get(name) {
                found = Some(found.unwrap_or(Size::ZERO).max(*s));
            }
        }
        found.unwrap_or_else(|| self.context.get(name))
    }

    fn assign(&mut self, target: &Expr<'_>, size: Size) -> Result<(), Refusal> {
        match target {
            Expr::Var(v) => {
                let scope = self.scopes.last_mut().expect("there is always a scope");
                let old = scope.get(v.id).copied().unwrap_or(Size::ZERO);
                scope.insert(v.id.to_string(), old.max(size));
                Ok(())
            }
            Expr::List(l) => l.items.iter().try_for_each(|t| self.assign(t, size)),
            Expr::Tuple(t) => t.items.iter().try_for_each(|t| self.assign(t, size)),
            _ => self.refuse("only plain names can be assigned to in notification templates"),
        }
    }

    /// A value the template builds: checked against the per-value cap and counted.
    fn built(&mut self, size: Size, what: &str) -> Result<Size, Refusal> {
        if size.bytes > MAX_VALUE_BYTES {
            return self.refuse(format!(
                "{what} could build a value of {} bytes; the limit is {MAX_VALUE_BYTES}; {INSTEAD}",
                size.bytes
            ));
        }
        self.built = self.built.saturating_add(size.bytes);
        if self.built > MAX_BUILT_BYTES {
            return self.refuse(format!(
                "the values this template builds could add up to more than {MAX_BUILT_BYTES} bytes; {INSTEAD}"
            ));
        }
        Ok(size)
    }

    pub fn template(&mut self, stmt: &Stmt<'_>) -> Result<(), Refusal> {
        self.stmt(stmt)
    }

    fn body(&mut self, stmts: &[Stmt<'_>]) -> Result<(), Refusal> {
        stmts.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) -> Result<(), Refusal> {
        let refused = |what: &str, instead: &str| {
            format!(
                "{what} are not allowed in notification templates (they can build text without bound); {instead}"
            )
        };
        match stmt {
            Stmt::Template(t) => self.body(&t.children),
            Stmt::EmitRaw(_) => Ok(()),
            Stmt::EmitExpr(e) => {
                self.line = line_of(e.span());
                self.expr(&e.expr).map(|_| ())
            }
            Stmt::IfCond(c) => {
                self.line = line_of(c.span());
                self.expr(&c.expr)?;
                self.body(&c.true_body)?;
                self.body(&c.false_body)
            }
            Stmt::AutoEscape(a) => {
                self.line = line_of(a.span());
                self.expr(&a.enabled)?;
                self.body(&a.body)
            }
            Stmt::WithBlock(w) => {
                self.line = line_of(w.span());
                self.scopes.push(BTreeMap::new());
                let done = w.assignments.iter().try_for_each(|(target, value)| {
                    let size = self.expr(value)?;
                    self.assign(target, size)
                });
                let done = done.and_then(|()| self.body(&w.body));
                self.scopes.pop();
                done
            }
            Stmt::Set(s) => {
                self.line = line_of(s.span());
                let size = self.expr(&s.expr)?;
                self.assign(&s.target, size)
            }
            Stmt::ForLoop(f) => self.for_loop(f),
            Stmt::SetBlock(s) => {
                self.line = line_of(s.span());
                self.refuse(refused(
                    "block `set`s (`{% set x %}…{% endset %}`)",
                    "use `{% set x = … %}` with an expression",
                ))
            }
            Stmt::FilterBlock(s) => {
                self.line = line_of(s.span());
                self.refuse(refused(
                    "`{% filter %}` blocks",
                    "apply the filter to each value (`{{ v | upper }}`)",
                ))
            }
            Stmt::Macro(s) => {
                self.line = line_of(s.span());
                self.refuse(refused(
                    "macros",
                    "compute values in the check or use filters",
                ))
            }
            Stmt::CallBlock(s) => {
                self.line = line_of(s.span());
                self.refuse(refused(
                    "call blocks",
                    "compute values in the check or use filters",
                ))
            }
            Stmt::Do(s) => {
                self.line = line_of(s.span());
                self.refuse(refused(
                    "`{% do %}` statements",
                    "write the value out with `{{ }}`",
                ))
            }
            Stmt::Block(s) => {
                self.line = line_of(s.span());
                self.refuse(
                    "blocks are not used in notification templates; write the text directly",
                )
            }
            Stmt::Extends(s) => {
                self.line = line_of(s.span());
                self.refuse("a notification template cannot extend another; write its text in full")
            }
            Stmt::Include(s) => {
                self.line = line_of(s.span());
                self.refuse(
                    "a notification template cannot include another; write its text in full",
                )
            }
            Stmt::Import(s) => {
                self.line = line_of(s.span());
                self.refuse(refused("imports", "write the text in full"))
            }
            Stmt::FromImport(s) => {
                self.line = line_of(s.span());
                self.refuse(refused("imports", "write the text in full"))
            }
        }
    }

    fn for_loop(&mut self, f: &ast::Spanned<ast::ForLoop<'_>>) -> Result<(), Refusal> {
        self.line = line_of(f.span());
        if f.recursive {
            return self.refuse(
                "recursive loops are not allowed in notification templates (they can build text without bound); loop over the values you need directly",
            );
        }
        if self.loops >= MAX_LOOP_NESTING {
            return self.refuse(format!(
                "loops are nested more than {MAX_LOOP_NESTING} deep; loop over fewer levels"
            ));
        }
        let iter = self.expr(&f.iter)?;
        let item = Size {
            bytes: iter.bytes,
            depth: iter.depth.saturating_sub(1),
            nodes: iter.nodes,
        };
        // The body runs many times; whatever it assigns outlives one round in the
        // same scope, so it is walked until its bounds stop growing. A second round
        // that grows them means a value built on its own last value.
        let mut scope = BTreeMap::new();
        scope.insert("loop".to_string(), iter);
        self.scopes.push(scope);
        self.loops += 1;
        let mut rounds = Vec::new();
        let mut built = Vec::new();
        for _ in 0..2 {
            built.push(self.built);
            let round = self.assign(&f.target, item).and_then(|()| {
                if let Some(cond) = &f.filter_expr {
                    self.expr(cond)?;
                }
                self.body(&f.body)
            });
            if let Err(e) = round {
                self.loops -= 1;
                return Err(e);
            }
            rounds.push(self.scopes.last().cloned().unwrap_or_default());
        }
        self.loops -= 1;
        self.scopes.pop();
        if rounds[0] != rounds[1] {
            let grown = rounds[1]
                .iter()
                .find(|(k, v)| rounds[0].get(*k) != Some(v))
                .map(|(k, _)| k.as_str())
                .unwrap_or("a value");
            self.line = line_of(f.span());
            return self.refuse(format!(
                "`{grown}` is set inside this loop from its own value in the round before, so it could grow every round; build it from the loop's item alone, or write each round's part out with `{{ }}`"
            ));
        }
        // One round's values are dropped before the next: count the second round
        // (as large as any) once.
        self.built = built[0] + (self.built - built[1]);
        self.body(&f.else_body)
    }

    fn args(&mut self, call_args: &[CallArg<'_>]) -> Result<Args, Refusal> {
        let mut args = Args::default();
        for a in call_args {
            match a {
                CallArg::Pos(e) => {
                    let size = self.expr(e)?;
                    args.pos.push(arg(e, size));
                }
                CallArg::Kwarg(name, e) => {
                    let size = self.expr(e)?;
                    args.kw.push((name.to_string(), arg(e, size)));
                }
                CallArg::PosSplat(_) | CallArg::KwargSplat(_) => {
                    return self.refuse(
                        "`*args` and `**kwargs` are not allowed in notification templates; pass the arguments one by one",
                    );
                }
            }
        }
        Ok(args)
    }

    fn expr(&mut self, expr: &Expr<'_>) -> Result<Size, Refusal> {
        match expr {
            Expr::Var(v) => Ok(self.lookup(v.id)),
            Expr::Const(c) => Ok(size_of(&c.value, MAX_VALUE_BYTES.saturating_add(1))),
            Expr::Slice(s) => {
                let inner = self.expr(&s.expr)?;
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part)?;
                }
                self.built(inner, "this slice")
            }
            Expr::UnaryOp(u) => {
                self.expr(&u.expr)?;
                Ok(SCALAR)
            }
            Expr::BinOp(b) => {
                self.line = line_of(b.span());
                let left = self.expr(&b.left)?;
                let right = self.expr(&b.right)?;
                match b.op {
                    BinOpKind::Mul | BinOpKind::Pow => self.refuse(
                        "the `*` and `**` operators are not allowed in notification templates (they can build text without bound); compute values in the check or use filters",
                    ),
                    BinOpKind::Concat => self.built(
                        text(left.bytes.saturating_add(right.bytes)),
                        "this `~`",
                    ),
                    BinOpKind::Add => self.built(left.plus(right), "this `+`"),
                    BinOpKind::ScAnd | BinOpKind::ScOr => Ok(left.max(right)),
                    BinOpKind::Sub | BinOpKind::Div | BinOpKind::FloorDiv | BinOpKind::Rem => {
                        Ok(SCALAR)
                    }
                    BinOpKind::Eq
                    | BinOpKind::Ne
                    | BinOpKind::Lt
                    | BinOpKind::Lte
                    | BinOpKind::Gt
                    | BinOpKind::Gte
                    | BinOpKind::In => Ok(BOOL),
                }
            }
            Expr::Compare(c) => {
                self.expr(&c.expr)?;
                for op in &c.ops {
                    self.expr(&op.expr)?;
                }
                Ok(BOOL)
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr)?;
                let yes = self.expr(&i.true_expr)?;
                let no = match &i.false_expr {
                    Some(e) => self.expr(e)?,
                    None => Size::ZERO,
                };
                Ok(yes.max(no))
            }
            Expr::Filter(f) => {
                self.line = line_of(f.span());
                let input = match &f.expr {
                    Some(e) => self.expr(e)?,
                    None => Size::ZERO,
                };
                let args = self.args(&f.args)?;
                if !filters::FILTERS.contains(&f.name) {
                    // Compiling the template reports it as an unknown filter.
                    return Ok(Size::ZERO);
                }
                let literal = match &f.expr {
                    Some(Expr::Const(c)) => Some(&c.value),
                    _ => None,
                };
                let size =
                    filter_growth(f.name, input, &args, literal).or_else(|why| self.refuse(why))?;
                self.built(size, &format!("the filter `{}`", f.name))
            }
            Expr::Test(t) => {
                self.line = line_of(t.span());
                self.expr(&t.expr)?;
                self.args(&t.args)?;
                Ok(BOOL)
            }
            Expr::GetAttr(g) => {
                let inner = self.expr(&g.expr)?;
                Ok(inner.part())
            }
            Expr::GetItem(g) => {
                let inner = self.expr(&g.expr)?;
                self.expr(&g.subscript_expr)?;
                Ok(inner.part())
            }
            Expr::Call(c) => self.call(c),
            Expr::List(l) => {
                let size = self.items(&l.items)?;
                self.built(size, "this list")
            }
            Expr::Tuple(t) => {
                let size = self.items(&t.items)?;
                self.built(size, "this tuple")
            }
            Expr::Map(m) => {
                let keys = self.items(&m.keys)?;
                let values = self.items(&m.values)?;
                self.built(keys.plus(values), "this map")
            }
        }
    }

    fn items(&mut self, items: &[Expr<'_>]) -> Result<Size, Refusal> {
        let mut size = Size {
            bytes: 2,
            depth: 1,
            nodes: 1,
        };
        for item in items {
            let s = self.expr(item)?;
            size = size.plus(Size {
                bytes: s.bytes.saturating_add(2),
                depth: s.depth.saturating_add(1),
                nodes: s.nodes,
            });
        }
        Ok(size)
    }

    fn call(&mut self, c: &ast::Spanned<ast::Call<'_>>) -> Result<Size, Refusal> {
        self.line = line_of(c.span());
        match c.identify_call() {
            CallType::Function(name) if filters::FUNCTIONS.contains(&name) => {
                let args = self.args(&c.args)?;
                let size = range_growth(&args).or_else(|why| self.refuse(why))?;
                self.built(size, "this `range`")
            }
            CallType::Method(Expr::Var(v), method @ ("cycle" | "changed")) if v.id == "loop" => {
                let args = self.args(&c.args)?;
                Ok(if method == "changed" {
                    BOOL
                } else {
                    args.pos.iter().fold(Size::ZERO, |m, a| m.max(a.size))
                })
            }
            CallType::Function(name) => self.refuse(format!(
                "the function `{name}` is not available in notification templates; the only function is `range`"
            )),
            CallType::Method(_, name) => self.refuse(format!(
                "calling `.{name}()` is not allowed in notification templates; use a filter (`| {name}`) where there is one"
            )),
            _ => self.refuse(
                "calls are not allowed in notification templates; use filters and `range`",
            ),
        }
    }
}

fn arg(e: &Expr<'_>, size: Size) -> Arg {
    Arg {
        size,
        value: match e {
            Expr::Const(c) => Some(c.value.clone()),
            _ => None,
        },
    }
}

fn text(bytes: u64) -> Size {
    Size {
        bytes,
        depth: 0,
        nodes: 1,
    }
}
