// Boost.JSON compiled into the agent from its headers, so the static
// ironboot-agent needs no Boost libraries at link time.
#include <boost/json/src.hpp>
