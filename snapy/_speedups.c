/* The tracer's hot path in C: optional, built when a compiler is at hand.
 *
 * Everything here does what a Python function of `_trace_monitoring` (3.12+) or
 * `_trace_settrace` (3.11) does on its hot path, appends the same records to the same list,
 * and hands anything else to those Python functions. Without this module the Python code runs
 * alone and writes the same trace; with it, a recorded call costs ~40 ns instead of ~170 (3.12)
 * and ~200 ns instead of ~520 (3.11), which no Python callback can reach (an empty one costs
 * ~100 ns on 3.12 and ~230 ns on 3.11).
 *
 * 3.12+: `Start` and `Return` are sys.monitoring callbacks for PY_START and PY_RETURN of the
 * recording tool (`_fast_callbacks`).
 * 3.11: `Tracer` is a C trace function (`PyEval_SetTrace`) that does what the `sys.settrace`
 * trampoline does for the Python trace functions of `_ThreadTracer`, except for a call of a
 * plain function of a matching module and its return, which it records itself.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#if PY_VERSION_HEX < 0x030E0000
/* 3.11: the frame's f_trace and f_trace_lines, which the trampoline sets, are not public.
 * 3.12, 3.13: the running frame's arguments, read without making a frame object (~150 ns).
 * Later versions change the frame's layout: they take the public, slower way. */
#define Py_BUILD_CORE
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#undef Py_BUILD_CORE
#define SNAPY_FRAME_INTERNALS 1
#endif
#if PY_VERSION_HEX < 0x030C0000
#define SNAPY_SETTRACE 1
#endif

/* -- shared: one recorded call and its arguments ------------------------------------------- */

typedef struct {
    PyObject *log;       /* list: the segment's records */
    PyObject *keep;      /* frozenset of types kept by reference in arguments */
    Py_ssize_t short_len; /* strings up to this length kept by reference; -1: none */
    PyObject *arguments; /* state.arguments(info, values) -> frozen tuple */
    PyObject *infos;     /* dict: id(code) -> CodeInfo */
    PyObject *call_key;  /* the CALL marker, the key of the code in a dict record */
} Capture;

static int
capture_traverse(Capture *c, visitproc visit, void *arg)
{
    Py_VISIT(c->log);
    Py_VISIT(c->keep);
    Py_VISIT(c->arguments);
    Py_VISIT(c->infos);
    Py_VISIT(c->call_key);
    return 0;
}

static void
capture_clear(Capture *c)
{
    Py_CLEAR(c->log);
    Py_CLEAR(c->keep);
    Py_CLEAR(c->arguments);
    Py_CLEAR(c->infos);
    Py_CLEAR(c->call_key);
}

static int
capture_init(Capture *c, PyObject *log, PyObject *keep, Py_ssize_t short_len,
             PyObject *arguments, PyObject *infos, PyObject *call_key)
{
    if (!PyList_Check(log) || !PyAnySet_Check(keep) || !PyDict_Check(infos)) {
        PyErr_SetString(PyExc_TypeError, "log must be a list, keep a set, infos a dict");
        return -1;
    }
    Py_INCREF(log);
    Py_INCREF(keep);
    Py_INCREF(arguments);
    Py_INCREF(infos);
    Py_INCREF(call_key);
    capture_clear(c);
    c->log = log;
    c->keep = keep;
    c->short_len = short_len;
    c->arguments = arguments;
    c->infos = infos;
    c->call_key = call_key;
    return 0;
}

/* Whether values of this type are kept by reference: 1, 0, or -1 on an error. A class whose
 * metaclass defines __eq__ without __hash__ cannot be looked up: it is not kept (frozen). */
static int
kept_type(PyObject *keep, PyTypeObject *type)
{
    int kept = PySet_Contains(keep, (PyObject *)type);
    if (kept < 0 && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        return 0;
    }
    return kept;
}

/* The `max_events` budget: `left` calls may start before `refill()` is asked again; it answers
 * how many may (this one included), 0 when the segment is full (and has marked it so). */
typedef struct {
    Py_ssize_t left;
    PyObject *refill;
} Budget;

/* Count one recorded call: 1, 0 when the segment is full, -1 on an error. */
static int
budget_take(Budget *b)
{
    if (b->left > 0) {
        b->left--;
        return 1;
    }
    PyObject *answer = PyObject_CallNoArgs(b->refill);
    if (answer == NULL) {
        return -1;
    }
    Py_ssize_t allowed = PyLong_AsSsize_t(answer);
    Py_DECREF(answer);
    if (allowed == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (allowed <= 0) {
        return 0;
    }
    b->left = allowed - 1;
    return 1;
}

static PyObject *
budget_take_result(int take)
{
    return take < 0 ? NULL : PyBool_FromLong(take);
}

/* The CodeInfo of a recorded code object (borrowed). */
static PyObject *
code_info(Capture *c, PyObject *code)
{
    PyObject *id = PyLong_FromVoidPtr(code);
    if (id == NULL) {
        return NULL;
    }
    PyObject *info = PyDict_GetItemWithError(c->infos, id); /* borrowed */
    Py_DECREF(id);
    if (info == NULL && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_KeyError, "snapy tracer: a recorded code object has no info");
    }
    return info;
}

/* Append the record of a call of `code` whose frame's locals are `values` (a new dict, taken):
 * the dict itself when it holds only values kept by reference, else (code, arguments(...)). */
static int
record_arguments(Capture *c, PyObject *code, PyObject *values, PyObject *info)
{
    PyObject *key, *value, *record;
    Py_ssize_t pos = 0;
    int simple = 1, result;

    while (PyDict_Next(values, &pos, &key, &value)) {
        PyTypeObject *type = Py_TYPE(value);
        int kept = kept_type(c->keep, type);
        if (kept < 0) {
            Py_DECREF(values);
            return -1;
        }
        if (kept) {
            continue;
        }
        if (type != &PyUnicode_Type || PyUnicode_GET_LENGTH(value) > c->short_len) {
            simple = 0;
            break;
        }
    }
    if (simple) {
        if (PyDict_SetItem(values, c->call_key, code) < 0) {
            Py_DECREF(values);
            return -1;
        }
        result = PyList_Append(c->log, values);
        Py_DECREF(values);
        return result;
    }
    if (info == NULL) {
        info = code_info(c, code);
        if (info == NULL) {
            Py_DECREF(values);
            return -1;
        }
    }
    PyObject *frozen = PyObject_CallFunctionObjArgs(c->arguments, info, values, NULL);
    Py_DECREF(values);
    if (frozen == NULL) {
        return -1;
    }
    record = PyTuple_Pack(2, code, frozen);
    Py_DECREF(frozen);
    if (record == NULL) {
        return -1;
    }
    result = PyList_Append(c->log, record);
    Py_DECREF(record);
    return result;
}

/* A returned value as the Python callbacks record it: by reference when its type is kept,
 * else frozen. New reference. */
static PyObject *
returned_value(PyObject *value, PyObject *keep, PyObject *freeze)
{
    PyTypeObject *type = Py_TYPE(value);
    if (type == &PyLong_Type || value == Py_None || type == &PyBool_Type ||
        type == &PyFloat_Type) { /* in KEEP: the common ones without a set lookup */
        Py_INCREF(value);
        return value;
    }
    int kept = kept_type(keep, type);
    if (kept < 0) {
        return NULL;
    }
    if (kept) {
        Py_INCREF(value);
        return value;
    }
    return PyObject_CallOneArg(freeze, value);
}

#ifndef SNAPY_SETTRACE

/* -- 3.12+: sys.monitoring callbacks ------------------------------------------------------- */

/* Which threads' events are recorded once several threads run (`_tagged_callbacks`): records
 * are then `(thread ident, record)` pairs. */
typedef struct {
    int tagged;
    unsigned long owner; /* the thread that started the tracer */
    int every_thread;    /* threads=True */
    PyObject *hidden;    /* dict: thread ident -> replay guards open in it */
} Threads;

static int
threads_init(Threads *t, PyObject *owner, int every_thread, PyObject *hidden)
{
    if (owner == Py_None) {
        t->tagged = 0;
        return 0;
    }
    t->owner = PyLong_AsUnsignedLong(owner);
    if (t->owner == (unsigned long)-1 && PyErr_Occurred()) {
        return -1;
    }
    if (hidden == NULL || !PyDict_Check(hidden)) {
        PyErr_SetString(PyExc_TypeError, "with an owner, hidden must be a dict");
        return -1;
    }
    t->tagged = 1;
    t->every_thread = every_thread;
    t->hidden = Py_NewRef(hidden);
    return 0;
}

/* `mine()`: the calling thread's ident (a new int) when its events are recorded, else a new
 * reference to None; NULL on an error. */
static PyObject *
threads_mine(Threads *t)
{
    unsigned long ident = PyThread_get_thread_ident();
    if (!t->every_thread && ident != t->owner) {
        Py_RETURN_NONE;
    }
    PyObject *key = PyLong_FromUnsignedLong(ident);
    if (key == NULL) {
        return NULL;
    }
    if (PyDict_GET_SIZE(t->hidden) > 0) { /* below a replay guard */
        int below = PyDict_Contains(t->hidden, key);
        if (below != 0) {
            Py_DECREF(key);
            if (below < 0) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
    }
    return key;
}

static int
append_tagged(PyObject *log, PyObject *ident, PyObject *entry)
{
    PyObject *record = PyTuple_Pack(2, ident, entry);
    if (record == NULL) {
        return -1;
    }
    int result = PyList_Append(log, record);
    Py_DECREF(record);
    return result;
}

/* PY_START of the recording tool: `_fast_callbacks.start`. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Capture capture;
    int capture_args;
    Budget budget;
    Threads threads;
    Py_ssize_t limit; /* tagged: records the segment may hold */
    PyObject *full;   /* tagged: marks the segment full */
} StartObject;

static PyObject *str_argnames;

#ifdef SNAPY_FRAME_INTERNALS
/* The arguments of the running frame of `code`, as a new dict, or NULL without an error when
 * the running frame is not that code's (the caller then takes the public way). */
static PyObject *
running_arguments(PyObject *code, PyObject *names)
{
    PyThreadState *tstate = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030D0000
    _PyInterpreterFrame *frame = tstate->current_frame;
    PyObject *running = frame == NULL ? NULL : frame->f_executable;
#else
    _PyInterpreterFrame *frame = tstate->cframe->current_frame;
    PyObject *running = frame == NULL ? NULL : (PyObject *)frame->f_code;
#endif
    if (running != code) {
        return NULL;
    }
    PyCodeObject *co = (PyCodeObject *)code;
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    if (count > co->co_nlocalsplus) {
        return NULL;
    }
    PyObject *values = PyDict_New();
    for (Py_ssize_t i = 0; values != NULL && i < count; i++) {
        PyObject *value = frame->localsplus[i];
        if (value != NULL && (_PyLocals_GetKind(co->co_localspluskinds, (int)i) & CO_FAST_CELL)
            && PyCell_Check(value)) {
            value = PyCell_GET(value);
        }
        if (value == NULL) { /* unbound */
            continue;
        }
        if (PyDict_SetItem(values, PyTuple_GET_ITEM(names, i), value) < 0) {
            Py_CLEAR(values);
        }
    }
    return values;
}
#endif

/* The arguments of the frame being started, as a new dict: only the parameters (the records'
 * readers look at nothing else), read one by one rather than through a copy of all locals. */
static PyObject *
current_arguments(PyObject *code, PyObject *info)
{
    PyObject *names = PyObject_GetAttr(info, str_argnames);
    if (names == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(names)) {
        Py_DECREF(names);
        PyErr_SetString(PyExc_TypeError, "snapy tracer: argnames is not a tuple");
        return NULL;
    }
#ifdef SNAPY_FRAME_INTERNALS
    PyObject *direct = running_arguments(code, names);
    if (direct != NULL || PyErr_Occurred()) {
        Py_DECREF(names);
        return direct;
    }
#endif
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed */
    if (frame == NULL) {
        Py_DECREF(names);
        PyErr_SetString(PyExc_RuntimeError, "snapy tracer: no frame at PY_START");
        return NULL;
    }
    PyObject *values = PyDict_New();
    for (Py_ssize_t i = 0; values != NULL && i < PyTuple_GET_SIZE(names); i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *value = PyFrame_GetVar(frame, name);
        if (value == NULL) {
            if (PyErr_ExceptionMatches(PyExc_NameError)) { /* unbound */
                PyErr_Clear();
                continue;
            }
            Py_CLEAR(values);
            break;
        }
        if (PyDict_SetItem(values, name, value) < 0) {
            Py_CLEAR(values);
        }
        Py_DECREF(value);
    }
    Py_DECREF(names);
    return values;
}

/* `_tagged_callbacks.start`: every call of an armed code, arguments always frozen. */
static PyObject *
start_tagged(StartObject *self, PyObject *code)
{
    PyObject *info = code_info(&self->capture, code);
    if (info == NULL) {
        return NULL;
    }
    if (info == Py_None) {
        Py_RETURN_NONE;
    }
    PyObject *ident = threads_mine(&self->threads);
    if (ident == NULL || ident == Py_None) {
        return ident;
    }
    if (PyList_GET_SIZE(self->capture.log) >= self->limit) {
        Py_DECREF(ident);
        PyObject *done = PyObject_CallNoArgs(self->full);
        if (done == NULL) {
            return NULL;
        }
        Py_DECREF(done);
        Py_RETURN_NONE;
    }
    PyObject *entry;
    if (self->capture_args) {
        PyObject *values = current_arguments(code, info);
        PyObject *frozen = values == NULL
                               ? NULL
                               : PyObject_CallFunctionObjArgs(self->capture.arguments, info,
                                                              values, NULL);
        Py_XDECREF(values);
        entry = frozen == NULL ? NULL : PyTuple_Pack(2, code, frozen);
        Py_XDECREF(frozen);
    }
    else {
        entry = Py_NewRef(code);
    }
    int result = entry == NULL ? -1 : append_tagged(self->capture.log, ident, entry);
    Py_XDECREF(entry);
    Py_DECREF(ident);
    if (result < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
start_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    StartObject *self = (StartObject *)op;
    if (PyVectorcall_NARGS(nargsf) < 1) {
        PyErr_SetString(PyExc_TypeError, "snapy tracer: PY_START callback without a code");
        return NULL;
    }
    PyObject *code = args[0];
    if (self->threads.tagged) {
        return start_tagged(self, code);
    }
    int take = budget_take(&self->budget);
    if (take <= 0) {
        if (take < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (!self->capture_args) {
        if (PyList_Append(self->capture.log, code) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *info = code_info(&self->capture, code);
    PyObject *values = info == NULL ? NULL : current_arguments(code, info);
    if (values == NULL || record_arguments(&self->capture, code, values, info) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
start_take_method(PyObject *op, PyObject *unused)
{
    return budget_take_result(budget_take(&((StartObject *)op)->budget));
}

static PyObject *
start_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"log", "refill", "capture_args", "keep", "short", "arguments",
                            "infos", "call_key", "owner", "every_thread", "hidden", "limit",
                            "full", NULL};
    PyObject *log, *refill, *keep, *arguments, *infos, *call_key;
    PyObject *owner = Py_None, *hidden = NULL, *full = Py_None;
    int capture_args, every_thread = 0;
    Py_ssize_t short_len, limit = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOpOnOOO|$OpOnO:Start", names, &log,
                                     &refill, &capture_args, &keep, &short_len, &arguments,
                                     &infos, &call_key, &owner, &every_thread, &hidden, &limit,
                                     &full)) {
        return NULL;
    }
    StartObject *self = (StartObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = start_vectorcall;
    if (capture_init(&self->capture, log, keep, short_len, arguments, infos, call_key) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->capture_args = capture_args;
    self->budget.left = 0;
    self->budget.refill = Py_NewRef(refill);
    self->limit = limit;
    self->full = Py_NewRef(full);
    if (threads_init(&self->threads, owner, every_thread, hidden) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
start_traverse(PyObject *op, visitproc visit, void *arg)
{
    StartObject *self = (StartObject *)op;
    Py_VISIT(self->budget.refill);
    Py_VISIT(self->full);
    Py_VISIT(self->threads.hidden);
    return capture_traverse(&self->capture, visit, arg);
}

static int
start_clear(PyObject *op)
{
    StartObject *self = (StartObject *)op;
    Py_CLEAR(self->budget.refill);
    Py_CLEAR(self->full);
    Py_CLEAR(self->threads.hidden);
    capture_clear(&self->capture);
    return 0;
}

static void
start_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    start_clear(op);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef start_methods[] = {
    {"take", start_take_method, METH_NOARGS,
     "Count one recorded call; False (and the segment is full) at max_events."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StartType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "snapy._speedups.Start",
    .tp_basicsize = sizeof(StartObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "The recording tool's PY_START callback.",
    .tp_vectorcall_offset = offsetof(StartObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = start_new,
    .tp_traverse = start_traverse,
    .tp_clear = start_clear,
    .tp_dealloc = start_dealloc,
    .tp_methods = start_methods,
};

/* PY_RETURN of the recording tool: `_fast_callbacks.ret`. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *log;
    PyObject *keep;   /* frozenset of types, or NULL: returns are not captured */
    PyObject *freeze;
    Threads threads;
} ReturnObject;

static PyObject *
return_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ReturnObject *self = (ReturnObject *)op;
    if (PyVectorcall_NARGS(nargsf) < 3) {
        PyErr_SetString(PyExc_TypeError, "snapy tracer: PY_RETURN callback without a value");
        return NULL;
    }
    if (self->threads.tagged) {
        PyObject *ident = threads_mine(&self->threads);
        if (ident == NULL || ident == Py_None) {
            return ident;
        }
        PyObject *value = self->keep == NULL
                              ? Py_NewRef(Py_None)
                              : returned_value(args[2], self->keep, self->freeze);
        int result = value == NULL ? -1 : append_tagged(self->log, ident, value);
        Py_XDECREF(value);
        Py_DECREF(ident);
        if (result < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (self->keep == NULL) {
        if (PyList_Append(self->log, Py_None) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *value = returned_value(args[2], self->keep, self->freeze);
    if (value == NULL) {
        return NULL;
    }
    int result = PyList_Append(self->log, value);
    Py_DECREF(value);
    if (result < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
return_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"log", "keep", "freeze", "owner", "every_thread", "hidden", NULL};
    PyObject *log, *keep, *freeze, *owner = Py_None, *hidden = NULL;
    int every_thread = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OO|$OpO:Return", names, &PyList_Type,
                                     &log, &keep, &freeze, &owner, &every_thread, &hidden)) {
        return NULL;
    }
    if (keep != Py_None && !PyAnySet_Check(keep)) {
        PyErr_SetString(PyExc_TypeError, "keep must be a set of types or None");
        return NULL;
    }
    ReturnObject *self = (ReturnObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = return_vectorcall;
    Py_INCREF(log);
    self->log = log;
    self->keep = keep == Py_None ? NULL : Py_NewRef(keep);
    Py_INCREF(freeze);
    self->freeze = freeze;
    if (threads_init(&self->threads, owner, every_thread, hidden) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
return_traverse(PyObject *op, visitproc visit, void *arg)
{
    ReturnObject *self = (ReturnObject *)op;
    Py_VISIT(self->log);
    Py_VISIT(self->keep);
    Py_VISIT(self->freeze);
    Py_VISIT(self->threads.hidden);
    return 0;
}

static int
return_clear(PyObject *op)
{
    ReturnObject *self = (ReturnObject *)op;
    Py_CLEAR(self->log);
    Py_CLEAR(self->keep);
    Py_CLEAR(self->freeze);
    Py_CLEAR(self->threads.hidden);
    return 0;
}

static void
return_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    return_clear(op);
    Py_TYPE(op)->tp_free(op);
}

static PyTypeObject ReturnType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "snapy._speedups.Return",
    .tp_basicsize = sizeof(ReturnObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "The recording tool's PY_RETURN callback.",
    .tp_vectorcall_offset = offsetof(ReturnObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = return_new,
    .tp_traverse = return_traverse,
    .tp_clear = return_clear,
    .tp_dealloc = return_dealloc,
};

#else /* SNAPY_SETTRACE */

/* -- 3.11: a C trace function -------------------------------------------------------------- */

static PyObject *str_name, *str_f_locals;

#define HOT_SIZE 64
#define HOT_SLOT(code) ((((uintptr_t)(code)) >> 4) % HOT_SIZE)
static PyObject *event_names[8]; /* PyTrace_CALL .. PyTrace_OPCODE -> 'call', ... */

typedef struct {
    PyObject_HEAD
    Capture capture;
    PyObject *fast;           /* ids of the plain functions recorded now (`_fast`) */
    Budget budget;            /* its refill is `_refill()` */
    PyObject *modules;        /* dict: module name -> verdict (None: left out) */
    PyObject *module_matches; /* callable(globals) -> verdict */
    PyObject *record;         /* the Python `record(frame, None)`, off the hot path */
    PyObject *local_function; /* a plain function's local trace function */
    PyObject *freeze;         /* freezer.value */
    PyObject *keep_returns;   /* KEEP, or NULL: returns are not captured */
    PyObject *skipped;        /* the globals of the last frame left out */
    PyObject *matched;        /* the globals of the last frame of a matching module */
    PyObject *hot_for;        /* the `_fast` set `hot` was filled from (compared, not held) */
    PyObject *hot[HOT_SIZE];  /* codes found in it: borrowed, the state keeps every code seen */
    int capture_args;
} TracerObject;

static int tracer_verdict(TracerObject *self, PyObject *globals);

static PyObject *
tracer_take_method(PyObject *op, PyObject *unused)
{
    return budget_take_result(budget_take(&((TracerObject *)op)->budget));
}

static PyObject *
tracer_get_fast(PyObject *op, void *closure)
{
    return Py_NewRef(((TracerObject *)op)->fast);
}

static int
tracer_set_fast(PyObject *op, PyObject *value, void *closure)
{
    if (value == NULL || !PyAnySet_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "fast must be a set");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(((TracerObject *)op)->fast, value);
    return 0;
}

static PyGetSetDef tracer_getset[] = {
    {"fast", tracer_get_fast, tracer_set_fast,
     "The ids of the plain functions recorded now (empty while the thread does not record).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* What `sys.settrace`'s trampoline does with a Python trace function's answer. */
static int
call_python(TracerObject *self, PyObject *function, PyFrameObject *frame, int what,
            PyObject *arg)
{
    PyObject *result = PyObject_CallFunctionObjArgs(
        function, (PyObject *)frame, event_names[what], arg ? arg : Py_None, NULL);
    if (result == NULL) {
        PyEval_SetTrace(NULL, NULL);
        Py_CLEAR(frame->f_trace);
        return -1;
    }
    if (result != Py_None) {
        Py_XSETREF(frame->f_trace, result);
    }
    else {
        Py_DECREF(result);
    }
    return 0;
}

/* `_call_bare` / `_call_arguments`: a new frame (or a resumed generator's). */
static int
tracer_call(TracerObject *self, PyFrameObject *frame)
{
    PyObject *globals = frame->f_frame->f_globals; /* borrowed */
    if (globals == self->skipped) {
        return 0;
    }
    if (globals != self->matched && tracer_verdict(self, globals) <= 0) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *code = (PyObject *)frame->f_frame->f_code; /* borrowed */
    PyObject *fast = self->fast;
    if (fast != self->hot_for) { /* recording stopped or went on: the cache starts again */
        memset(self->hot, 0, sizeof(self->hot));
        self->hot_for = fast;
    }
    int hot = self->hot[HOT_SLOT(code)] == code;
    if (!hot) {
        PyObject *id = PyLong_FromVoidPtr(code);
        if (id == NULL) {
            return -1;
        }
        hot = PySet_Contains(fast, id);
        Py_DECREF(id);
        if (hot < 0) {
            return -1;
        }
        if (hot) {
            self->hot[HOT_SLOT(code)] = code;
        }
    }
    if (hot) {
        int take = budget_take(&self->budget);
        if (take < 0) {
            return -1;
        }
        if (take) {
            int result;
            if (self->capture_args) {
                PyObject *locals = PyObject_GetAttr((PyObject *)frame, str_f_locals);
                PyObject *values = NULL;
                if (locals != NULL) {
                    values = PyDict_Check(locals) ? PyDict_Copy(locals)
                                                  : PyObject_CallMethod(locals, "copy", NULL);
                    Py_DECREF(locals);
                }
                result = values == NULL
                             ? -1
                             : record_arguments(&self->capture, code, values, NULL);
            }
            else {
                result = PyList_Append(self->capture.log, code);
            }
            if (result < 0) {
                return -1;
            }
            frame->f_trace_lines = 0;
            Py_INCREF(self->local_function);
            Py_XSETREF(frame->f_trace, self->local_function);
            return 0;
        }
    }
    PyObject *result = PyObject_CallFunctionObjArgs(self->record, (PyObject *)frame, Py_None,
                                                    NULL);
    if (result == NULL) {
        return -1;
    }
    if (result != Py_None) {
        Py_XSETREF(frame->f_trace, result);
    }
    else {
        Py_DECREF(result);
    }
    return 0;
}

/* Whether code run with these globals may be recorded: 1 (and remembered), 0 (and remembered
 * as left out), -1 on an error. */
static int
tracer_verdict(TracerObject *self, PyObject *globals)
{
    PyObject *verdict = NULL;
    PyObject *name = PyDict_GetItemWithError(globals, str_name); /* borrowed */
    if (name != NULL) {
        verdict = PyDict_GetItemWithError(self->modules, name); /* borrowed */
        Py_XINCREF(verdict);
    }
    if (verdict == NULL) {
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError) &&
                !PyErr_ExceptionMatches(PyExc_TypeError)) {
                return -1;
            }
            PyErr_Clear();
        }
        verdict = PyObject_CallOneArg(self->module_matches, globals);
        if (verdict == NULL) {
            return -1;
        }
    }
    if (verdict == Py_None) {
        Py_DECREF(verdict);
        Py_INCREF(globals);
        Py_XSETREF(self->skipped, globals);
        return 0;
    }
    Py_DECREF(verdict);
    Py_INCREF(globals);
    Py_XSETREF(self->matched, globals);
    return 1;
}

static int
tracer_trace(PyObject *op, PyFrameObject *frame, int what, PyObject *arg)
{
    TracerObject *self = (TracerObject *)op;
    if (what == PyTrace_CALL) {
        if (tracer_call(self, frame) < 0) {
            PyEval_SetTrace(NULL, NULL);
            return -1;
        }
        return 0;
    }
    PyObject *function = frame->f_trace;
    if (function == NULL || what > PyTrace_OPCODE) {
        return 0;
    }
    if (what == PyTrace_RETURN && function == self->local_function) {
        /* `_local_returns` / `_local_no_returns`: the frame ends, its f_trace stays. */
        PyObject *value;
        if (self->keep_returns == NULL) {
            value = Py_NewRef(Py_None);
        }
        else {
            value = returned_value(arg ? arg : Py_None, self->keep_returns, self->freeze);
            if (value == NULL) {
                PyEval_SetTrace(NULL, NULL);
                return -1;
            }
        }
        int result = PyList_Append(self->capture.log, value);
        Py_DECREF(value);
        if (result < 0) {
            PyEval_SetTrace(NULL, NULL);
        }
        return result;
    }
    Py_INCREF(function);
    int result = call_python(self, function, frame, what, arg);
    Py_DECREF(function);
    return result;
}

static PyObject *
tracer_install(PyObject *op, PyObject *unused)
{
    PyEval_SetTrace(tracer_trace, op);
    if (PyErr_Occurred()) { /* an audit hook refused it */
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Called as a Python trace function (someone passed `sys.gettrace()` to `sys.settrace`): only
 * 'call' reaches here, the trampoline sends the rest to the frame's f_trace. */
static PyObject *
tracer_pycall(PyObject *op, PyObject *args, PyObject *kwargs)
{
    PyObject *frame, *event, *arg;
    if (!PyArg_ParseTuple(args, "O!UO:Tracer", &PyFrame_Type, &frame, &event, &arg)) {
        return NULL;
    }
    for (int what = 0; what <= PyTrace_OPCODE; what++) {
        if (event_names[what] != NULL && PyUnicode_Compare(event, event_names[what]) == 0) {
            PyFrameObject *f = (PyFrameObject *)frame;
            int result = what == PyTrace_CALL
                             ? tracer_call((TracerObject *)op, f)
                             : tracer_trace(op, f, what, arg == Py_None ? NULL : arg);
            if (result < 0) {
                return NULL;
            }
            PyObject *local = f->f_trace;
            return Py_NewRef(local != NULL ? local : Py_None);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
tracer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"fast", "refill", "modules", "module_matches", "record",
                            "local_function", "freeze", "keep_returns", "capture_args",
                            "keep", "short", "arguments", "infos", "call_key", "log", NULL};
    PyObject *fast, *refill, *modules, *module_matches, *record, *local_function, *freeze;
    PyObject *keep_returns, *keep, *arguments, *infos, *call_key, *log;
    int capture_args;
    Py_ssize_t short_len;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!OOOOOpOnOOOO:Tracer", names, &fast,
                                     &refill, &PyDict_Type, &modules,
                                     &module_matches, &record, &local_function, &freeze,
                                     &keep_returns, &capture_args, &keep, &short_len,
                                     &arguments, &infos, &call_key, &log)) {
        return NULL;
    }
    if (!PyAnySet_Check(fast) ||
        (keep_returns != Py_None && !PyAnySet_Check(keep_returns))) {
        PyErr_SetString(PyExc_TypeError, "fast must be a set, keep_returns a set or None");
        return NULL;
    }
    TracerObject *self = (TracerObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (capture_init(&self->capture, log, keep, short_len, arguments, infos, call_key) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->fast = Py_NewRef(fast);
    self->budget.refill = Py_NewRef(refill);
    self->budget.left = 0;
    self->modules = Py_NewRef(modules);
    self->module_matches = Py_NewRef(module_matches);
    self->record = Py_NewRef(record);
    self->local_function = Py_NewRef(local_function);
    self->freeze = Py_NewRef(freeze);
    self->keep_returns = keep_returns == Py_None ? NULL : Py_NewRef(keep_returns);
    self->skipped = NULL;
    self->matched = NULL;
    self->hot_for = NULL;
    memset(self->hot, 0, sizeof(self->hot));
    self->capture_args = capture_args;
    return (PyObject *)self;
}

static int
tracer_traverse(PyObject *op, visitproc visit, void *arg)
{
    TracerObject *self = (TracerObject *)op;
    Py_VISIT(self->fast);
    Py_VISIT(self->budget.refill);
    Py_VISIT(self->modules);
    Py_VISIT(self->module_matches);
    Py_VISIT(self->record);
    Py_VISIT(self->local_function);
    Py_VISIT(self->freeze);
    Py_VISIT(self->keep_returns);
    Py_VISIT(self->skipped);
    Py_VISIT(self->matched);
    return capture_traverse(&self->capture, visit, arg);
}

static int
tracer_clear(PyObject *op)
{
    TracerObject *self = (TracerObject *)op;
    Py_CLEAR(self->fast);
    Py_CLEAR(self->budget.refill);
    Py_CLEAR(self->modules);
    Py_CLEAR(self->module_matches);
    Py_CLEAR(self->record);
    Py_CLEAR(self->local_function);
    Py_CLEAR(self->freeze);
    Py_CLEAR(self->keep_returns);
    Py_CLEAR(self->skipped);
    Py_CLEAR(self->matched);
    self->hot_for = NULL;
    capture_clear(&self->capture);
    return 0;
}

static void
tracer_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    tracer_clear(op);
    Py_TYPE(op)->tp_free(op);
}

static PyMethodDef tracer_methods[] = {
    {"take", tracer_take_method, METH_NOARGS,
     "Count one recorded call; False (and the segment is full) at max_events."},
    {"install", tracer_install, METH_NOARGS,
     "Make this the trace function of the calling thread (PyEval_SetTrace)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "snapy._speedups.Tracer",
    .tp_basicsize = sizeof(TracerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One thread's trace function on Python 3.11.",
    .tp_call = tracer_pycall,
    .tp_new = tracer_new,
    .tp_traverse = tracer_traverse,
    .tp_clear = tracer_clear,
    .tp_dealloc = tracer_dealloc,
    .tp_methods = tracer_methods,
    .tp_getset = tracer_getset,
};

#endif /* SNAPY_SETTRACE */

/* -- the module ---------------------------------------------------------------------------- */

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "snapy._speedups",
    .m_doc = "The tracer's hot path in C (optional; the Python backends work without it).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
#ifndef SNAPY_SETTRACE
    str_argnames = PyUnicode_InternFromString("argnames");
    if (str_argnames == NULL || PyModule_AddType(module, &StartType) < 0 || PyModule_AddType(module, &ReturnType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#else
    static const char *events[] = {"call", "exception", "line", "return",
                                   "c_call", "c_exception", "c_return", "opcode"};
    for (int what = 0; what <= PyTrace_OPCODE; what++) {
        event_names[what] = PyUnicode_InternFromString(events[what]);
        if (event_names[what] == NULL) {
            Py_DECREF(module);
            return NULL;
        }
    }
    str_name = PyUnicode_InternFromString("__name__");
    str_f_locals = PyUnicode_InternFromString("f_locals");
    if (str_name == NULL || str_f_locals == NULL ||
        PyModule_AddType(module, &TracerType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    return module;
}
