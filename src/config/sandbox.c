/* sandbox.c — the restricted LuaJIT state a config file (and the bundled
 * model data) is evaluated in. Allowed: base functions without dofile,
 * loadfile or binary chunks, string (without dump), table, math and
 * os.getenv. No require, io, debug or jit. A memory cap and a wall-clock
 * deadline (count hook, JIT off so the hook fires in loops) stop runaway
 * files. Uses LuaJIT and core/log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "../core/log.h"
#include "cfg-t.h"

#define MG_CFG_VM_MEM (64u << 20)     /* bytes a config evaluation may use */
#define MG_CFG_VM_SECONDS 3.0         /* wall time per file */
#define MG_CFG_FILE_MAX (4u << 20)    /* largest config file read */
#define MG_CFG_HOOK_COUNT 1000        /* instructions between deadline checks */
/* Chunk name used while evaluating; error messages carry it and it is
 * replaced by the full file path (Lua would cut long paths to 60 bytes). */
#define MG_CFG_CHUNK "@moongate-config@"

static char vm_registry_key;

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    mg_cfg_vm *vm = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        vm->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize && vm->mem_used + (nsize - osize) > vm->mem_cap)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    vm->mem_used = vm->mem_used - osize + nsize;
    return p;
}

int mg_cfg_vm_open(mg_cfg_vm *vm, mg_cfg_errs *errs)
{
    memset(vm, 0, sizeof *vm);
    vm->errs = errs;
    vm->mem_cap = MG_CFG_VM_MEM;
    vm->L = lua_newstate(vm_alloc, vm);
    if (!vm->L) /* builds that refuse a custom allocator: no cap then */
        vm->L = luaL_newstate();
    if (!vm->L) {
        mg_cfg_err(errs, NULL, "cannot create a Lua state");
        return MG_ERR;
    }
    return MG_OK;
}

void mg_cfg_vm_close(mg_cfg_vm *vm)
{
    if (vm->L)
        lua_close(vm->L);
    vm->L = NULL;
    mg_buf_free(&vm->unset_secrets);
}

static mg_cfg_vm *vm_of(lua_State *L)
{
    lua_pushlightuserdata(L, &vm_registry_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    mg_cfg_vm *vm = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return vm;
}

static void vm_hook(lua_State *L, lua_Debug *ar)
{
    mg_cfg_vm *vm = vm_of(L);
    if (!vm || mg_now_mono() <= vm->deadline)
        return;
    /* luaL_error would name the hook's level, not the looping line. */
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        lua_pushfstring(L, "%s:%d: ", ar->short_src, ar->currentline);
    else
        lua_pushliteral(L, "");
    lua_pushfstring(L, "evaluation took longer than %d s (endless loop?)", (int)MG_CFG_VM_SECONDS);
    lua_concat(L, 2);
    lua_error(L);
}

/* Environment variables whose names say they hold credentials. */
static int secret_name(const char *name)
{
    static const char *const marks[] = {"KEY", "TOKEN", "SECRET", "PASS", "AUTH"};
    for (size_t i = 0; i < MG_ARRAY_LEN(marks); i++)
        if (strcasestr(name, marks[i]))
            return 1;
    return 0;
}

/* os.getenv(name): credentials read this way are remembered so errors can
 * never show them; unset credential variables are remembered for a warning. */
static int vm_getenv(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    mg_cfg_vm *vm = vm_of(L);
    const char *value = getenv(name);
    if (value && vm && secret_name(name))
        mg_cfg_secret(vm->errs, value, strlen(value));
    if (!value && vm && secret_name(name) && vm->unset_secrets.len < 1024) {
        char shown[80];
        mg_cfg_printable(shown, sizeof shown, name, strlen(name));
        mg_buf_printf(&vm->unset_secrets, "%s%s", vm->unset_secrets.len ? ", " : "", shown);
    }
    if (value)
        lua_pushstring(L, value);
    else
        lua_pushnil(L);
    return 1;
}

/* load/loadstring that only ever accept source text (LuaJIT bytecode can
 * crash the VM). Upvalue 1: the original load. */
static int vm_load(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    if (n >= 2)
        lua_pushvalue(L, 2);
    else
        lua_pushnil(L);
    lua_pushliteral(L, "t");
    if (n >= 4)
        lua_pushvalue(L, 4);
    else
        lua_pushnil(L);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L) - n;
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static void drop_global(lua_State *L, const char *name)
{
    lua_pushnil(L);
    lua_setfield(L, LUA_GLOBALSINDEX, name);
}

void mg_cfg_vm_setup(mg_cfg_vm *vm)
{
    lua_State *L = vm->L;
    lua_pushlightuserdata(L, &vm_registry_key);
    lua_pushlightuserdata(L, vm);
    lua_rawset(L, LUA_REGISTRYINDEX);
    /* Interpreted only: count hooks do not fire inside compiled loops. */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);

    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);

    static const char *const banned[] = {"dofile", "loadfile", "newproxy", "module", "require"};
    for (size_t i = 0; i < MG_ARRAY_LEN(banned); i++)
        drop_global(L, banned[i]);
    lua_getglobal(L, "load");
    lua_pushcclosure(L, vm_load, 1);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "load");
    lua_setglobal(L, "loadstring");

    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);

    lua_createtable(L, 0, 1); /* os = { getenv = ... } and nothing else */
    lua_pushcfunction(L, vm_getenv);
    lua_setfield(L, -2, "getenv");
    lua_setglobal(L, "os");
}

/* Read at most MG_CFG_FILE_MAX bytes of file; owned result or NULL. */
static char *read_file(mg_cfg_vm *vm, const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        mg_cfg_err(vm->errs, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    mg_buf b = {0};
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        mg_buf_append(&b, chunk, got);
        if (b.len > MG_CFG_FILE_MAX)
            break;
    }
    int failed = ferror(f) ? errno : 0;
    fclose(f);
    if (failed || b.len > MG_CFG_FILE_MAX) {
        if (failed)
            mg_cfg_err(vm->errs, NULL, "cannot read: %s", strerror(failed));
        else
            mg_cfg_err(vm->errs, NULL, "file larger than %u bytes", MG_CFG_FILE_MAX);
        mg_buf_free(&b);
        return NULL;
    }
    mg_buf_reserve(&b, 1);
    b.data[b.len] = '\0';
    *len = b.len;
    return b.data;
}

/* Report the Lua error on top of the stack as "file:line: message". */
static void report_lua_error(mg_cfg_vm *vm, const char *file)
{
    lua_State *L = vm->L;
    const char *msg = lua_tostring(L, -1);
    mg_buf line = {0};
    if (!msg) {
        mg_buf_printf(&line, "%s: error object is a %s value", file, luaL_typename(L, -1));
    } else {
        const size_t mlen = sizeof MG_CFG_CHUNK - 1;
        if (strncmp(msg, MG_CFG_CHUNK, mlen) != 0)
            mg_buf_printf(&line, "%s: ", file);
        for (const char *p = msg; *p;) {
            if (strncmp(p, MG_CFG_CHUNK, mlen) == 0) {
                mg_buf_append_str(&line, file);
                p += mlen;
            } else {
                mg_buf_append(&line, p++, 1);
            }
        }
    }
    mg_cfg_err_line(vm->errs, mg_buf_cstr(&line));
    mg_buf_free(&line);
    lua_pop(L, 1);
}

int mg_cfg_vm_run(mg_cfg_vm *vm, const char *file)
{
    lua_State *L = vm->L;
    vm->errs->file = file; /* later errors are about this file too */
    size_t len = 0;
    char *src = read_file(vm, file, &len);
    int rc = MG_ERR;
    if (!src)
        goto out;
    if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
        mg_cfg_err(vm->errs, NULL, "precompiled (binary) chunks are not accepted");
        goto out;
    }
    if (luaL_loadbuffer(L, src, len, "=" MG_CFG_CHUNK) != 0) {
        report_lua_error(vm, file);
        goto out;
    }
    vm->deadline = mg_now_mono() + MG_CFG_VM_SECONDS;
    lua_sethook(L, vm_hook, LUA_MASKCOUNT, MG_CFG_HOOK_COUNT);
    int status = lua_pcall(L, 0, 1, 0);
    lua_sethook(L, NULL, 0, 0);
    if (status == LUA_ERRMEM) {
        lua_pop(L, 1);
        mg_cfg_err(vm->errs, NULL, "not enough memory (a config may use at most %u MiB)",
                   MG_CFG_VM_MEM >> 20);
        goto out;
    }
    if (status != 0) {
        report_lua_error(vm, file);
        goto out;
    }
    if (vm->unset_secrets.len)
        mg_warn("%s: environment variables not set: %s", file,
                mg_buf_cstr(&vm->unset_secrets));
    mg_buf_reset(&vm->unset_secrets);
    rc = MG_OK;
out:
    free(src);
    return rc;
}
