// The fake Transport: requests go straight to an ApiHandler on the same io_context, with
// the same semantics as the embedded API over HTTPS (authorized as the admin token, the one
// ironboot's own client uses) but no sockets, TLS or fsync.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "kube/api_handler.hpp"
#include "kube/authz.hpp"
#include "kube/client.hpp"

namespace ironboot::kube {

namespace {

class InProcessStream : public StreamHandle {
 public:
  InProcessStream(Store& store) : store_(store) {}
  ~InProcessStream() override { cancel(); }
  void cancel() override {
    if (listener_) store_.remove_listener(listener_);
    listener_ = 0;
    cancelled_ = true;
  }
  Store& store_;
  int listener_ = 0;
  bool cancelled_ = false;
};

class InProcessTransport : public Transport {
 public:
  InProcessTransport(boost::asio::io_context& io, ApiHandler& handler, Store& store) : io_(io), handler_(handler), store_(store) {}

  void send(HttpRequest request, std::function<void(HttpReply)> done) override {
    boost::asio::post(io_, [this, request = std::move(request), done = std::move(done)] {
      ApiResult r = dispatch(request);
      HttpReply reply;
      reply.status = r.watch ? 400 : r.response.status;
      reply.body = r.response.body;
      done(std::move(reply));
    });
  }

  std::shared_ptr<StreamHandle> stream(HttpRequest request, std::function<void(std::string_view)> on_line,
                                       std::function<void(HttpReply)> on_end) override {
    auto handle = std::make_shared<InProcessStream>(store_);
    std::weak_ptr<InProcessStream> weak = handle;
    boost::asio::post(io_, [this, weak, request = std::move(request), on_line, on_end] {
      auto h = weak.lock();
      if (!h || h->cancelled_) return;
      ApiResult r = dispatch(request);
      if (!r.watch) {
        HttpReply reply;
        reply.status = r.response.status;
        reply.body = r.response.body;
        on_end(std::move(reply));
        return;
      }
      auto plan = std::make_shared<WatchPlan>(std::move(*r.watch));
      for (const auto& e : handler_.initial_events(*plan)) on_line(std::string_view(e).substr(0, e.size() - 1));
      h->listener_ = store_.add_listener([this, plan, weak, on_line](const Change& c) {
        std::string e = handler_.encode_change(*plan, c);
        if (e.empty()) return;
        // Delivered asynchronously, as a socket would.
        boost::asio::post(io_, [weak, on_line, e = std::move(e)] {
          auto h = weak.lock();
          if (h && !h->cancelled_) on_line(std::string_view(e).substr(0, e.size() - 1));
        });
      });
    });
    return handle;
  }

 private:
  // What the HTTPS shell does for a request with the admin token.
  ApiResult dispatch(const HttpRequest& request) {
    ApiRequest api{request.method, request.target, request.accept, request.content_type, request.body};
    Gate gate = gate_request(admin_principal(), api);
    if (gate.response) return ApiResult{std::move(*gate.response), std::nullopt, false};
    return handler_.handle(api);
  }

  boost::asio::io_context& io_;
  ApiHandler& handler_;
  Store& store_;
};

}  // namespace

std::shared_ptr<Transport> make_in_process_transport(boost::asio::io_context& io, ApiHandler& handler, Store& store) {
  return std::make_shared<InProcessTransport>(io, handler, store);
}

}  // namespace ironboot::kube
