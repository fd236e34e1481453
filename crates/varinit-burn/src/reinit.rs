//! [`Reinit`]: every float parameter of a burn module drawn by varinit,
//! keyed by (seed, parameter path), with schemes chosen by ordered glob
//! rules.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{DType as BurnDType, Tensor, TensorData};
use varinit::{DType, Init, Layout, Par, ResolveOptions, Resolved, Shape, TensorInit};

use crate::error::{Error, Result};
use crate::params::{ParamInfo, PathStack, float_params};
use crate::rules::Glob;

/// The rule scheme that keeps a parameter's current value (burn's own
/// initialization, or whatever it holds).
pub const KEEP: &str = "keep";

#[derive(Debug, Clone)]
struct Rule {
    glob: Glob,
    scheme: String,
    /// `None` for [`KEEP`].
    init: Option<Init>,
}

/// Why a parameter got its scheme (or kept its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A rule: the first whose glob matches the path.
    Rule {
        /// 0-based position of the rule.
        index: usize,
        /// The rule's glob.
        glob: String,
    },
    /// No rule matched and [`Reinit::keep_unmatched`] was set: the value
    /// was kept.
    Unmatched,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Rule { index, glob } => write!(f, "rule {index} {glob:?}"),
            Origin::Unmatched => f.write_str("no rule, kept"),
        }
    }
}

/// What [`Reinit`] does with one parameter.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The full parameter path, as burn names it (the name that keys the
    /// stream).
    pub path: String,
    /// The type of the module that owns the parameter (`Linear`,
    /// `Conv2d`, your struct's name).
    pub module: String,
    /// The shape burn saves the parameter in.
    pub shape: Vec<usize>,
    /// True when the parameter is saved `(in, out)` (burn's `Linear`
    /// weight, or a path declared with [`Reinit::in_out`]): it is drawn
    /// in PyTorch's `(out, in)` order, [`Plan::drawn_shape`], then
    /// transposed.
    pub in_out: bool,
    /// The shape drawn, in PyTorch's order: `(out, in, *kernel)`.
    pub drawn_shape: Shape,
    /// burn's dtype of the parameter; f32, f64, f16 and bf16 are drawn in
    /// that type directly (f16 and bf16 are the rounding of the f32
    /// values), others in f32 and converted by burn.
    pub dtype: BurnDType,
    /// Where the scheme came from.
    pub origin: Origin,
    /// The scheme, `None` when the value is kept.
    pub init: Option<Init>,
    /// How the drawn shape's fans are read: PyTorch's layout, and
    /// `transposed` for paths declared with [`Reinit::transposed`].
    pub options: ResolveOptions,
    /// The distribution for this shape, `None` when the value is kept.
    pub resolved: Option<Resolved>,
}

impl Plan {
    /// The exact mean and standard deviation of the drawn values, `None`
    /// when the value is kept (see [`Resolved::expected_moments`]).
    pub fn expected_moments(&self) -> Option<(f64, f64)> {
        self.resolved.as_ref().map(|r| r.expected_moments(&self.drawn_shape))
    }

    /// Whether the parameter is drawn (not kept).
    pub fn is_drawn(&self) -> bool {
        self.init.is_some()
    }
}

/// `path [shape] scheme ~ distribution (origin)`, and how an `(in, out)`
/// weight was drawn.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.path, self.shape)?;
        match (&self.init, &self.resolved) {
            (Some(init), Some(resolved)) => write!(f, " {init} ~ {resolved} ({})", self.origin)?,
            _ => write!(f, " kept ({})", self.origin)?,
        }
        if self.in_out && self.is_drawn() {
            write!(f, ", drawn as {} (out, in) and transposed", self.drawn_shape)?;
        }
        Ok(())
    }
}

/// A shared, append-only record of what [`Reinit::apply`] did to each
/// parameter, in burn's visiting order. Get one with [`Reinit::journal`];
/// clones of a [`Reinit`] share it.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Plan>>>);

impl Journal {
    fn lock(&self) -> MutexGuard<'_, Vec<Plan>> {
        // a panic elsewhere while holding the lock cannot leave a Vec half-pushed
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every parameter handled so far (drawn or kept).
    pub fn entries(&self) -> Vec<Plan> {
        self.lock().clone()
    }

    /// The latest entry for `path`.
    pub fn get(&self, path: &str) -> Option<Plan> {
        self.lock().iter().rev().find(|p| p.path == path).cloned()
    }
}

/// Re-initialize every float parameter of any burn [`Module`] with varinit.
///
/// - **Keyed by path.** A parameter's values are a pure function of (seed,
///   its full path as burn names it, scheme, shape, dtype): the same model
///   gets the same weights bit for bit whatever the order its modules were
///   built or visited in, the thread count or the backend's generator, and
///   adding a layer changes no other layer. Paths are documented in the
///   crate docs (`layers.3.weight`).
/// - **Ordered glob rules** choose the scheme: `(glob, scheme)` pairs tried
///   in the order they were added; the first match wins. `*` matches across
///   dots, `{a,b}` alternatives; the scheme [`KEEP`] (`"keep"`) keeps the
///   current value. A parameter no rule matches is an error listing every
///   such path, unless [`Reinit::keep_unmatched`]; a rule that matches no
///   parameter is an error too (a typo), unless
///   [`Reinit::allow_unused_rules`].
/// - **PyTorch's fans for burn's layout.** burn's `Linear` weight is
///   `(in, out)`, PyTorch's `(out, in)`. It is drawn as PyTorch's
///   `(out, in)` tensor under the same path, then transposed: the fans are
///   PyTorch's for the same layer, and the values are exactly the
///   transpose of what varinit gives the PyTorch (or candle) layer of that
///   name. Convolutions, embeddings and norms have PyTorch's layout in
///   burn already. Declare other `(in, out)` weights with
///   [`Reinit::in_out`], transposed-convolution weights with
///   [`Reinit::transposed`].
///
/// Nothing is drawn until every parameter has a valid plan: on any error
/// the model is not touched.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use varinit_burn::Reinit;
///
/// #[derive(Module, Debug)]
/// struct Mlp {
///     layers: Vec<Linear>,
/// }
///
/// let device = burn::tensor::Device::flex();
/// let mlp = Mlp { layers: vec![LinearConfig::new(64, 128).init(&device), LinearConfig::new(128, 10).init(&device)] };
/// let mlp = Reinit::new(2024)                                    // the seed
///     .rule("*.weight", "kaiming_normal(nonlinearity=relu)")?    // glob on the path -> any varinit scheme
///     .rule("*.bias", "zeros")?
///     .apply(mlp)?;
/// assert_eq!(mlp.layers[1].weight.dims(), [128, 10]);           // burn's (in, out)
/// # Ok::<(), varinit_burn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reinit {
    seed: u64,
    rules: Vec<Rule>,
    in_out: Vec<Glob>,
    transposed: Vec<Glob>,
    keep_unmatched: bool,
    allow_unused_rules: bool,
    par: Par,
    journal: Journal,
}

fn glob(what: String, text: &str) -> Result<Glob> {
    Glob::new(text).map_err(|message| Error::Glob { what, glob: text.to_string(), message })
}

impl Reinit {
    /// No rules yet, with this seed.
    pub fn new(seed: u64) -> Self {
        Reinit {
            seed,
            rules: Vec::new(),
            in_out: Vec::new(),
            transposed: Vec::new(),
            keep_unmatched: false,
            allow_unused_rules: false,
            par: Par::Rayon,
            journal: Journal::default(),
        }
    }

    /// Add a rule: parameters whose path matches `glob` get `scheme` (any
    /// varinit scheme, or [`KEEP`]), unless an earlier rule matched. A bad
    /// glob or scheme is an error naming the rule.
    pub fn rule(mut self, glob_text: &str, scheme: &str) -> Result<Self> {
        let index = self.rules.len();
        let g = glob(format!("rule {index}"), glob_text)?;
        let init = if scheme.trim().eq_ignore_ascii_case(KEEP) {
            None
        } else {
            Some(scheme.parse::<Init>().map_err(|source| Error::RuleScheme {
                index,
                glob: glob_text.to_string(),
                scheme: scheme.to_string(),
                source: Box::new(source),
            })?)
        };
        self.rules.push(Rule { glob: g, scheme: scheme.to_string(), init });
        Ok(self)
    }

    /// Add several rules, in order (see [`Reinit::rule`]).
    pub fn rules<G: AsRef<str>, S: AsRef<str>>(self, rules: impl IntoIterator<Item = (G, S)>) -> Result<Self> {
        rules.into_iter().try_fold(self, |r, (g, s)| r.rule(g.as_ref(), s.as_ref()))
    }

    /// Keep the current value of parameters no rule matches (by default
    /// they are an error).
    pub fn keep_unmatched(mut self) -> Self {
        self.keep_unmatched = true;
        self
    }

    /// Do not report rules that match no parameter of the model (useful
    /// for one rule set shared by several models).
    pub fn allow_unused_rules(mut self) -> Self {
        self.allow_unused_rules = true;
        self
    }

    /// Declare the 2-D parameters matching `glob` as saved `(in, out)`,
    /// like burn's `Linear` weight (detected on its own): they are drawn in
    /// PyTorch's `(out, in)` order and transposed.
    pub fn in_out(mut self, glob_text: &str) -> Result<Self> {
        self.in_out.push(glob(format!("in_out glob {}", self.in_out.len()), glob_text)?);
        Ok(self)
    }

    /// Declare the parameters matching `glob` transposed-convolution
    /// weights (burn, like PyTorch, stores them `(in, out/groups,
    /// *kernel)`), so that fan-based schemes swap `fan_in` and `fan_out`
    /// (see [`varinit::Fans::of`]). PyTorch itself does not swap them, so
    /// without this the fans are PyTorch's.
    pub fn transposed(mut self, glob_text: &str) -> Result<Self> {
        self.transposed.push(glob(format!("transposed glob {}", self.transposed.len()), glob_text)?);
        Ok(self)
    }

    /// How fills are parallelised (default [`Par::Rayon`]); the values do
    /// not depend on it.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A handle on the record of what [`Reinit::apply`] did (shared with
    /// clones of this `Reinit`).
    pub fn journal(&self) -> Journal {
        self.journal.clone()
    }

    /// What [`Reinit::apply`] would do to every float parameter of
    /// `module`, in burn's visiting order, without drawing anything or
    /// initializing a lazy parameter. Every problem is reported at once.
    pub fn plan<M: Module>(&self, module: &M) -> Result<Vec<Plan>> {
        let params = float_params(module);
        let mut used = vec![false; self.rules.len()];
        let mut plans = Vec::with_capacity(params.len());
        let mut problems = Vec::new();
        let mut unmatched = Vec::new();
        for p in &params {
            match self.plan_one(p, &mut used) {
                Ok(Some(plan)) => plans.push(plan),
                Ok(None) => unmatched.push(p.path.clone()),
                Err(e) => problems.push(e),
            }
        }
        if !unmatched.is_empty() {
            problems.push(Error::Unmatched { paths: unmatched });
        }
        if !self.allow_unused_rules {
            let unused: Vec<String> = self
                .rules
                .iter()
                .zip(&used)
                .enumerate()
                .filter(|(_, (_, u))| !**u)
                .map(|(i, (r, _))| format!("rule {i} {:?} -> {:?}", r.glob.as_str(), r.scheme))
                .collect();
            if !unused.is_empty() {
                problems.push(Error::UnusedRules { rules: unused });
            }
        }
        match Error::from_problems("re-initializing", problems) {
            Some(e) => Err(e),
            None => Ok(plans),
        }
    }

    /// `Ok(None)`: no rule matched and unmatched parameters are errors.
    fn plan_one(&self, p: &ParamInfo, used: &mut [bool]) -> Result<Option<Plan>> {
        let declared_in_out = self.in_out.iter().find(|g| g.is_match(&p.path));
        if let Some(g) = declared_in_out
            && p.shape.len() != 2
        {
            return Err(Error::NotInOut { path: p.path.clone(), shape: p.shape.clone(), glob: g.as_str().to_string() });
        }
        let in_out = p.linear_in_out || declared_in_out.is_some();
        let mut drawn: Vec<u64> = p.shape.iter().map(|&d| d as u64).collect();
        if in_out {
            drawn.reverse();
        }
        let shape_error = |source| Error::Param {
            path: p.path.clone(),
            shape: p.shape.clone(),
            origin: "shape".into(),
            scheme: String::new(),
            source: Box::new(source),
        };
        let drawn_shape = Shape::new(drawn).map_err(shape_error)?;
        let transposed = self.transposed.iter().any(|g| g.is_match(&p.path));
        let options = ResolveOptions { layout: Layout::Torch, transposed };
        let rule = self.rules.iter().enumerate().find(|(_, r)| r.glob.is_match(&p.path));
        let (origin, init) = match rule {
            Some((index, r)) => {
                used[index] = true;
                (Origin::Rule { index, glob: r.glob.as_str().to_string() }, r.init.clone())
            }
            None if self.keep_unmatched => (Origin::Unmatched, None),
            None => return Ok(None),
        };
        let resolved = match &init {
            Some(init) => Some(init.resolve(&drawn_shape, options).map_err(|source| Error::Param {
                path: p.path.clone(),
                shape: p.shape.clone(),
                origin: origin.to_string(),
                scheme: init.to_string(),
                source: Box::new(source),
            })?),
            None => None,
        };
        Ok(Some(Plan {
            path: p.path.clone(),
            module: p.module.clone(),
            shape: p.shape.clone(),
            in_out,
            drawn_shape,
            dtype: p.dtype,
            origin,
            init,
            options,
            resolved,
        }))
    }

    /// Re-initialize `module`: every float parameter (weights, biases, norm
    /// scales, and burn's running statistics, which burn also visits as
    /// float parameters) is drawn by its rule's scheme or kept. Returns the
    /// module; on error (a rule problem, a scheme that does not fit a
    /// shape, unmatched parameters, unused rules: all listed at once)
    /// nothing was drawn and the module is dropped (clone it first to keep
    /// it: cloning a burn module is cheap).
    ///
    /// The drawn values replace the parameters as `burn-store` loads a
    /// checkpoint (`Param::transform_for_load`): ids, devices, gradient
    /// settings and load/save mappers stay, and a lazy parameter is
    /// replaced without running burn's initializer.
    pub fn apply<M: Module>(&self, module: M) -> Result<M> {
        let plans = self.plan(&module)?;
        for plan in plans.iter().filter(|p| p.is_drawn()) {
            self.check_dtype(plan)?;
        }
        // one parameter at a time: peak memory is the model plus one tensor
        let mut todo: HashMap<&str, &Plan> =
            plans.iter().filter(|p| p.is_drawn()).map(|p| (p.path.as_str(), p)).collect();
        let module = Installer::run(module, |path| todo.remove(path).map(|plan| self.draw(plan)))?;
        self.journal.0.lock().unwrap_or_else(|e| e.into_inner()).extend(plans);
        Ok(module)
    }

    /// Whether the plan's scheme can be drawn in its dtype (parameters an
    /// f16 cannot hold, ...), before anything is drawn.
    fn check_dtype(&self, plan: &Plan) -> Result<()> {
        let Some(init) = &plan.init else { return Ok(()) };
        let t = TensorInit::new(self.seed, &plan.path, init, plan.drawn_shape.clone(), plan.options);
        t.and_then(|t| t.check_dtype(varinit_dtype(plan.dtype))).map_err(|source| Error::Param {
            path: plan.path.clone(),
            shape: plan.shape.clone(),
            origin: plan.origin.to_string(),
            scheme: init.to_string(),
            source: Box::new(source),
        })
    }

    /// The values of one planned parameter, in burn's saved form and dtype.
    pub(crate) fn draw(&self, plan: &Plan) -> Result<TensorData> {
        let Some(init) = &plan.init else { unreachable!("only drawn plans are drawn") };
        let error = |source| Error::Param {
            path: plan.path.clone(),
            shape: plan.shape.clone(),
            origin: plan.origin.to_string(),
            scheme: init.to_string(),
            source: Box::new(source),
        };
        let t = TensorInit::new(self.seed, &plan.path, init, plan.drawn_shape.clone(), plan.options).map_err(error)?;
        let (rows, cols) = match plan.drawn_shape.dims() {
            [r, c] if plan.in_out => (*r as usize, *c as usize),
            _ => (0, 0),
        };
        fn saved<T: varinit::Element + burn::tensor::Element>(
            t: &TensorInit,
            par: Par,
            shape: &[usize],
            transpose: Option<(usize, usize)>,
        ) -> varinit::Result<TensorData> {
            let v: Vec<T> = t.to_vec(par)?;
            let v = match transpose {
                Some((r, c)) => crate::convert::transpose(&v, r, c),
                None => v,
            };
            Ok(TensorData::new(v, shape.to_vec()))
        }
        let transpose = plan.in_out.then_some((rows, cols));
        Ok(match plan.dtype {
            BurnDType::F64 => saved::<f64>(&t, self.par, &plan.shape, transpose).map_err(error)?,
            BurnDType::F16 => saved::<varinit::dtype::F16>(&t, self.par, &plan.shape, transpose).map_err(error)?,
            BurnDType::BF16 => saved::<varinit::dtype::BF16>(&t, self.par, &plan.shape, transpose).map_err(error)?,
            BurnDType::F32 => saved::<f32>(&t, self.par, &plan.shape, transpose).map_err(error)?,
            other => {
                saved::<f32>(&t, self.par, &plan.shape, transpose).map_err(error)?.try_cast(other).map_err(|e| {
                    Error::Burn { path: plan.path.clone(), message: format!("converting to {other:?}: {e}") }
                })?
            }
        })
    }
}

/// The varinit dtype a burn float dtype is drawn in.
pub(crate) fn varinit_dtype(d: BurnDType) -> DType {
    match d {
        BurnDType::F64 => DType::F64,
        BurnDType::F16 => DType::F16,
        BurnDType::BF16 => DType::BF16,
        _ => DType::F32,
    }
}

/// Replaces parameters by path with tensors in burn's saved form, one at a
/// time, as `burn-store` does; parameters the source has nothing for pass
/// through.
pub(crate) struct Installer<F> {
    stack: PathStack,
    source: F,
    error: Option<Error>,
}

impl<F: FnMut(&str) -> Option<Result<TensorData>>> Installer<F> {
    /// Map `module` through `source` (`None`: leave the parameter). The
    /// first error stops further replacements and is returned (the
    /// partly replaced module is dropped).
    pub(crate) fn run<M: Module>(module: M, source: F) -> Result<M> {
        let mut installer = Installer { stack: PathStack::default(), source, error: None };
        let module = module.map(&mut installer);
        match installer.error {
            Some(e) => Err(e),
            None => Ok(module),
        }
    }
}

impl<F: FnMut(&str) -> Option<Result<TensorData>>> ModuleMapper for Installer<F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let data = match (self.source)(&self.stack.path()) {
            None => return param,
            Some(Err(e)) => {
                self.error = Some(e);
                return param;
            }
            Some(Ok(data)) => data,
        };
        let device = param.lazy_device();
        let dtype = data.dtype();
        let tensor = Tensor::<D>::from_data(data, (&device, dtype));
        let id = param.id;
        param.transform_for_load(tensor, id)
    }
}
