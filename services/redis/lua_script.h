// File: services/redis/lua_script.h
//
// A Lua script embedded at build time (cmake/EmbedLua.cmake generates one
// `LuaScript kName` per services/store/lua/name.lua). RedisClient::Eval runs it
// by SHA1 and falls back to sending the source when Redis answers NOSCRIPT.
#pragma once

namespace makegood::redis {

struct LuaScript {
  const char* name;    // File stem, e.g. "record_delivery"; used in logs.
  const char* source;  // The script text.
  const char* sha1;    // Lower-case hex SHA1 of `source`, as EVALSHA wants.
};

}  // namespace makegood::redis
