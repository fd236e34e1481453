//! [`VarinitBackend`]: a candle-nn `SimpleBackend` that draws every variable
//! with varinit, keyed by (seed, full variable path).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};
use varinit::rules::{Glob, Rule, RuleScheme, Rules};
use varinit::style::{Style, Vars};
use varinit::{Init, Layout, Par, ResolveOptions, Resolved, Shape, TensorInit};

use crate::error::{Error, Result};
use crate::hint::scheme_for_hint;

/// The rule scheme that means "follow candle's hint".
pub const HINT: &str = varinit::rules::HINT;

fn glob_matcher(index: usize, glob: &str) -> Result<Glob> {
    Glob::new(glob).map_err(|e| {
        let message = match e {
            varinit::Error::BadGlob { reason, .. } => reason,
            other => other.to_string(),
        };
        Error::Glob { index, glob: glob.to_string(), message }
    })
}

/// Where a variable's scheme came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The hint candle passed, mapped by [`scheme_for_hint`].
    Hint(candle_nn::Init),
    /// A user rule.
    Rule {
        /// 0-based position of the rule (the first matching rule wins).
        index: usize,
        /// The rule's glob.
        glob: String,
    },
    /// A rule of the backend's init style ([`VarinitBackend::style`]).
    Style {
        /// The style's name.
        name: String,
        /// The file it was read from (`builtin:NAME` for a built-in style).
        file: String,
        /// 1-based line of the rule.
        line: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Hint(h) => write!(f, "candle hint {h:?}"),
            Origin::Rule { index, glob } => write!(f, "rule {index} {glob:?}"),
            Origin::Style { name, file, line } => write!(f, "style {name} ({file}:{line})"),
        }
    }
}

/// What [`VarinitBackend`] does for one variable: the scheme, where it came
/// from, and the concrete distribution it resolves to for the shape.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The full variable path (the tensor name that keys the stream).
    pub path: String,
    /// The variable's shape.
    pub shape: Shape,
    /// Where the scheme came from.
    pub origin: Origin,
    /// The scheme.
    pub init: Init,
    /// How the shape was read (always PyTorch's layout; `transposed` for
    /// paths marked with [`VarinitBackend::transposed`]).
    pub options: ResolveOptions,
    /// The distribution for this shape.
    pub resolved: Resolved,
}

impl Plan {
    /// The exact mean and standard deviation of the variable's elements
    /// (see [`Resolved::expected_moments`]).
    pub fn expected_moments(&self) -> (f64, f64) {
        self.resolved.expected_moments(&self.shape)
    }
}

/// `path [shape] scheme ~ distribution (origin)`.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} ~ {} ({})", self.path, self.shape, self.init, self.resolved, self.origin)
    }
}

/// A shared, append-only record of the variables a [`VarinitBackend`] drew,
/// in the order the model asked for them. Get one with
/// [`VarinitBackend::journal`] before handing the backend to a
/// `VarBuilder`.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Plan>>>);

impl Journal {
    fn lock(&self) -> MutexGuard<'_, Vec<Plan>> {
        // A panic elsewhere while holding the lock cannot leave a Vec half-pushed.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, p: Plan) {
        self.lock().push(p);
    }

    /// The variables drawn so far.
    pub fn entries(&self) -> Vec<Plan> {
        self.lock().clone()
    }

    /// The entry for `path`, if it was drawn.
    pub fn get(&self, path: &str) -> Option<Plan> {
        self.lock().iter().find(|p| p.path == path).cloned()
    }
}

/// A candle-nn [`SimpleBackend`] that initializes every variable with
/// varinit.
///
/// - **Keyed by path.** A variable's values are a pure function of (seed,
///   full variable path, scheme, shape, dtype): the same model built twice
///   gets the same weights bit for bit, whatever the thread count, and
///   adding, removing or reordering other layers changes nothing else.
/// - **Follows candle's hint** (mapped as [`scheme_for_hint`] documents),
///   unless a **rule** matches: rules are `(glob, scheme)` pairs tried in
///   the order they were added against the full path (`layers.3.weight`);
///   the first match wins. The scheme `"hint"` sends a path back to the
///   hint.
/// - **Styles** ([`VarinitBackend::style`]): an init style (built-in such
///   as `olmo` or `megatron`, or a style file) decides the scheme of the
///   paths no rule matches, with the hint's scheme as the default its
///   `keep` refers to. Order: explicit rules (a `"hint"` rule included),
///   then the style, then the hint.
/// - **Trainable** with [`VarinitBackend::trainable`]: the variables are
///   registered in a [`VarMap`], as `VarBuilder::from_varmap` does, so
///   `varmap.all_vars()` feeds an optimizer and `varmap.save(..)` writes them.
///
/// Globs: `*` matches any run of characters (dots included), `?` one
/// character, `[0-9]` a class, `{a,b}` alternatives, `\` escapes.
///
/// ```
/// use candle_core::{DType, Device};
/// use candle_nn::{Module, VarMap};
/// use varinit_candle::VarinitBackend;
///
/// let varmap = VarMap::new();
/// let vb = VarinitBackend::new(42)
///     .rule("*.bias", "zeros")?
///     .rule("head.weight", "xavier_uniform")?
///     .trainable(&varmap)
///     .into_var_builder(DType::F32, &Device::Cpu);
/// let hidden = candle_nn::linear(64, 128, vb.pp("hidden"))?; // weight: candle's hint, Kaiming normal
/// let head = candle_nn::linear(128, 10, vb.pp("head"))?;
/// assert_eq!(varmap.all_vars().len(), 4);
/// let x = candle_core::Tensor::zeros((1, 64), DType::F32, &Device::Cpu)?;
/// let y = head.forward(&hidden.forward(&x)?.relu()?)?;
/// assert_eq!(y.dims(), &[1, 10]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct VarinitBackend {
    seed: u64,
    rules: Rules,
    style: Option<Arc<(Style, Vars)>>,
    transposed: Vec<Glob>,
    par: Par,
    varmap: Option<VarMap>,
    journal: Journal,
}

impl fmt::Debug for VarinitBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VarinitBackend")
            .field("seed", &self.seed)
            .field("rules", &self.rules.iter().map(|r| (r.glob().as_str(), r.scheme_text())).collect::<Vec<_>>())
            .field("style", &self.style.as_ref().map(|s| s.0.name()))
            .field("transposed", &self.transposed.iter().map(Glob::as_str).collect::<Vec<_>>())
            .field("par", &self.par)
            .field("trainable", &self.varmap.is_some())
            .finish()
    }
}

impl VarinitBackend {
    /// A backend with this seed, following candle's hints.
    pub fn new(seed: u64) -> Self {
        VarinitBackend {
            seed,
            rules: Rules::new(),
            style: None,
            transposed: Vec::new(),
            par: Par::Rayon,
            varmap: None,
            journal: Journal::default(),
        }
    }

    /// Add a rule: variables whose full path matches `glob` get `scheme`
    /// (any varinit scheme string, or `"hint"`), unless an earlier rule
    /// matched. Errors name the rule and say what is wrong with the glob
    /// or the scheme.
    pub fn rule(mut self, glob: &str, scheme: &str) -> Result<Self> {
        let index = self.rules.len();
        let compiled = glob_matcher(index, glob)?;
        let parsed = if scheme.trim().eq_ignore_ascii_case(HINT) {
            RuleScheme::Hint
        } else {
            let init: Init = scheme.parse().map_err(|source| Error::RuleScheme {
                index,
                glob: glob.to_string(),
                scheme: scheme.to_string(),
                source: Box::new(source),
            })?;
            RuleScheme::Init(init)
        };
        self.rules.push_rule(Rule::from_parts(compiled, parsed));
        Ok(self)
    }

    /// Add several rules, in order (see [`VarinitBackend::rule`]).
    pub fn rules<G: AsRef<str>, S: AsRef<str>>(self, rules: impl IntoIterator<Item = (G, S)>) -> Result<Self> {
        rules.into_iter().try_fold(self, |b, (g, s)| b.rule(g.as_ref(), s.as_ref()))
    }

    /// Initialize with an init style ([`varinit::style`]: a built-in one,
    /// `Style::builtin("olmo")`, or a file, `Style::parse(text, file)`),
    /// its variables (`L`, `d`, `d_ff`, `std`, ...) given by `vars`. For a
    /// path no rule matches, the first style rule whose glob matches the
    /// full path decides its scheme, its captures (`layers.{l}.weight`)
    /// and `vars` in the formulas; a path no style rule matches, or whose
    /// rule says `keep`, follows candle's hint. Explicit rules
    /// ([`VarinitBackend::rule`]) take precedence over the style, in
    /// whichever order they were added; a later call replaces the style.
    /// A formula that cannot be evaluated for a path (a variable `vars`
    /// lacks, a capture that is not an integer) is an [`Error::Style`]
    /// when that variable is drawn.
    pub fn style(mut self, style: Style, vars: Vars) -> Self {
        self.style = Some(Arc::new((style, vars)));
        self
    }

    /// Declare the variables matching `glob` transposed-convolution weights
    /// (PyTorch and candle store them `(in, out/groups, *kernel)`), so that
    /// fan-based rule schemes read `fan_in` and `fan_out` the right way round
    /// (see [`varinit::Fans::of`]). candle's hints for these layers are plain
    /// uniforms and do not use fans.
    pub fn transposed(mut self, glob: &str) -> Result<Self> {
        self.transposed.push(glob_matcher(self.transposed.len(), glob)?);
        Ok(self)
    }

    /// How fills are parallelised (default [`Par::Rayon`]); the values do
    /// not depend on it.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// Register every variable in `varmap` (shared, not copied): a path
    /// already in the map is returned as it is (a different shape is an
    /// error), a new one is drawn and inserted as a trainable [`Var`].
    pub fn trainable(mut self, varmap: &VarMap) -> Self {
        self.varmap = Some(varmap.clone());
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A handle on the record of drawn variables (shared with clones of
    /// this backend).
    pub fn journal(&self) -> Journal {
        self.journal.clone()
    }

    /// Wrap the backend in a candle `VarBuilder`.
    pub fn into_var_builder<'a>(self, dtype: DType, device: &Device) -> VarBuilder<'a> {
        VarBuilder::from_backend(Box::new(self), dtype, device.clone())
    }

    /// Which scheme the variable `path` of shape `dims` gets given candle's
    /// `hint`, and what it resolves to, without drawing anything.
    pub fn plan(&self, path: &str, dims: &[usize], hint: candle_nn::Init) -> Result<Plan> {
        let shape = Shape::try_from(dims).map_err(|source| Error::Variable {
            path: path.to_string(),
            shape: format!("{dims:?}"),
            origin: "shape".into(),
            scheme: String::new(),
            source: Box::new(source),
        })?;
        let transposed = self.transposed.iter().any(|m| m.is_match(path));
        let options = ResolveOptions { layout: Layout::Torch, transposed };
        let (origin, init) = match self.rules.find(path) {
            Some((index, rule)) => match rule.scheme() {
                RuleScheme::Init(init) => (Origin::Rule { index, glob: rule.glob().to_string() }, init.clone()),
                _ => (Origin::Hint(hint), scheme_for_hint(hint, dims)?),
            },
            None => {
                let default = scheme_for_hint(hint, dims)?;
                match &self.style {
                    None => (Origin::Hint(hint), default),
                    Some(st) => {
                        let (style, vars) = &**st;
                        let a = style.apply(vars, path, &default).map_err(|source| Error::Style {
                            path: path.to_string(),
                            shape: shape.to_string(),
                            style: style.name().to_string(),
                            source: Box::new(source),
                        })?;
                        match a.line {
                            Some(line) if !a.kept() => (
                                Origin::Style { name: style.name().to_string(), file: style.file().to_string(), line },
                                a.init,
                            ),
                            _ => (Origin::Hint(hint), default),
                        }
                    }
                }
            }
        };
        let resolved = init.resolve(&shape, options).map_err(|source| Error::Variable {
            path: path.to_string(),
            shape: shape.to_string(),
            origin: origin.to_string(),
            scheme: init.to_string(),
            source: Box::new(source),
        })?;
        Ok(Plan { path: path.to_string(), shape, origin, init, options, resolved })
    }

    /// Draw the variable `path` as a candle tensor (not registered anywhere,
    /// not recorded in the journal).
    ///
    /// f32, f64, f16 and bf16 are drawn directly in that type (f16 and
    /// bf16 are the rounding of the f32 values); other dtypes are drawn in
    /// f32 and converted by candle.
    pub fn draw(
        &self,
        path: &str,
        dims: &[usize],
        hint: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let plan = self.plan(path, dims, hint)?;
        self.draw_plan(&plan, dtype, device)
    }

    fn draw_plan(&self, plan: &Plan, dtype: DType, device: &Device) -> Result<Tensor> {
        let variable_error = |source| Error::Variable {
            path: plan.path.clone(),
            shape: plan.shape.to_string(),
            origin: plan.origin.to_string(),
            scheme: plan.init.to_string(),
            source: Box::new(source),
        };
        let t = TensorInit::new(self.seed, &plan.path, &plan.init, plan.shape.clone(), plan.options)
            .map_err(variable_error)?;
        let dims: Vec<usize> = plan.shape.dims().iter().map(|&d| d as usize).collect();
        let context = || format!("variable {:?}: making a {dtype:?} tensor", plan.path);
        let made = match dtype {
            DType::F32 => Tensor::from_vec(t.to_vec::<f32>(self.par).map_err(variable_error)?, dims, device),
            DType::F64 => Tensor::from_vec(t.to_vec::<f64>(self.par).map_err(variable_error)?, dims, device),
            DType::F16 => {
                Tensor::from_vec(t.to_vec::<varinit::dtype::F16>(self.par).map_err(variable_error)?, dims, device)
            }
            DType::BF16 => {
                Tensor::from_vec(t.to_vec::<varinit::dtype::BF16>(self.par).map_err(variable_error)?, dims, device)
            }
            other => Tensor::from_vec(t.to_vec::<f32>(self.par).map_err(variable_error)?, dims, device)
                .and_then(|x| x.to_dtype(other)),
        };
        made.map_err(|e| Error::candle(context(), e))
    }

    fn get_typed(
        &self,
        s: candle_core::Shape,
        path: &str,
        hint: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        let Some(varmap) = &self.varmap else {
            let plan = self.plan(path, s.dims(), hint)?;
            let t = self.draw_plan(&plan, dtype, dev)?;
            self.journal.push(plan);
            return Ok(t);
        };
        let mut vars = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(var) = vars.get(path) {
            if var.shape() != &s {
                return Err(Error::ShapeConflict {
                    path: path.to_string(),
                    existing: format!("{:?}", var.dims()),
                    requested: format!("{:?}", s.dims()),
                });
            }
            return Ok(var.as_tensor().clone());
        }
        let plan = self.plan(path, s.dims(), hint)?;
        let t = self.draw_plan(&plan, dtype, dev)?;
        let var = Var::from_tensor(&t).map_err(|e| Error::candle(format!("variable {path:?}"), e))?;
        let out = var.as_tensor().clone();
        vars.insert(path.to_string(), var);
        self.journal.push(plan);
        Ok(out)
    }
}

impl SimpleBackend for VarinitBackend {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        Ok(self.get_typed(s, name, h, dtype, dev)?)
    }

    /// In trainable mode, an existing variable; otherwise an error (varinit
    /// needs a shape to draw).
    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> candle_core::Result<Tensor> {
        if let Some(varmap) = &self.varmap {
            let vars = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
            if let Some(var) = vars.get(name) {
                return Ok(var.as_tensor().clone());
            }
        }
        Err(Error::NeedsShape { path: name.to_string() }.into())
    }

    /// Trainable mode: whether the variable is already in the `VarMap` (as
    /// candle's `VarMap` backend answers). Otherwise `true`: any variable can
    /// be drawn (as candle's `Zeros` backend answers).
    fn contains_tensor(&self, name: &str) -> bool {
        match &self.varmap {
            Some(varmap) => varmap.data().lock().unwrap_or_else(|e| e.into_inner()).contains_key(name),
            None => true,
        }
    }
}
