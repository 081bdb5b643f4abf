#pragma once
/// @file delegate.h
/// A two-word callable reference: what std::function would be, minus allocation and RTTI.
/// It binds a free function or a member function of an object the caller keeps alive; it never
/// owns what it points to.

#include <cstddef>

namespace spore {

template <typename Signature>
class Delegate;

template <typename R, typename... Args>
class Delegate<R(Args...)> {
 public:
  using FreeFn = R (*)(Args...);

  constexpr Delegate() = default;

  /// A free function or a lambda without captures.
  constexpr Delegate(FreeFn fn) : obj_(nullptr), stub_(&call_free), free_(fn) {}  // NOLINT(implicit)

  /// `obj->Method(args...)`; `obj` must outlive the delegate.
  template <typename T, R (T::*Method)(Args...)>
  static constexpr Delegate bind(T* obj) {
    Delegate d;
    d.obj_ = obj;
    d.stub_ = &call_member<T, Method>;
    return d;
  }

  /// `fn(ctx, args...)`, for C-style callbacks that carry a context pointer.
  template <typename T, R (*Fn)(T*, Args...)>
  static constexpr Delegate with_context(T* ctx) {
    Delegate d;
    d.obj_ = ctx;
    d.stub_ = &call_context<T, Fn>;
    return d;
  }

  explicit operator bool() const { return stub_ != nullptr; }

  R operator()(Args... args) const { return stub_(*this, args...); }

 private:
  using Stub = R (*)(const Delegate&, Args...);

  static R call_free(const Delegate& d, Args... args) { return d.free_(args...); }
  template <typename T, R (*Fn)(T*, Args...)>
  static R call_context(const Delegate& d, Args... args) {
    return Fn(static_cast<T*>(d.obj_), args...);
  }
  template <typename T, R (T::*Method)(Args...)>
  static R call_member(const Delegate& d, Args... args) {
    return (static_cast<T*>(d.obj_)->*Method)(args...);
  }

  void* obj_ = nullptr;
  Stub stub_ = nullptr;
  FreeFn free_ = nullptr;
};

}  // namespace spore
